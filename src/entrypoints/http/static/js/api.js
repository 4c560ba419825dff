// The service's REST API (/api/v1), and its problem details turned into sentences.

import { formatDateTime, has, t } from "./i18n.js";

/** A failed request: the HTTP status and the problem details (RFC 9457) it carried. */
export class ProblemError extends Error {
  constructor(status, problem) {
    super(problem.code || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.code = problem.code || (status === 0 ? "NETWORK" : "UNKNOWN");
  }
}

/** Call ``method path`` under /api/v1; resolves to the decoded JSON (null for 204). */
export async function call(method, path, { body, bearer, headers = {} } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  if (bearer) sent.Authorization = `Bearer ${bearer}`;
  let reply;
  try {
    reply = await fetch(`/api/v1${path}`, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ProblemError(0, {});
  }
  if (reply.status === 204) return null;
  let data = null;
  try {
    data = await reply.json();
  } catch {
    data = null;
  }
  if (!reply.ok) {
    const problem = data && typeof data === "object" && !Array.isArray(data) ? data : {};
    const error = new ProblemError(reply.status, problem);
    error.retryAfter = Number(reply.headers.get("Retry-After")) || null;
    throw error;
  }
  return data;
}

/** A sentence for a failed request, in the page's language: never the raw JSON. */
export function describe(error, context = {}) {
  if (!(error instanceof ProblemError)) return t("error.unknown", { status: "?" });
  const problem = error.problem;
  const values = {
    ...context,
    status: error.status,
    retry: error.retryAfter || 1,
    // a fan may join from the pre-queue's opening, when there is one
    opens_at: problem.prequeue_opens_at || problem.opens_at
      ? formatDateTime(problem.prequeue_opens_at || problem.opens_at)
      : "",
    phase: problem.phase ? t(`phase.${problem.phase}`) : "",
  };
  if (error.code === "SALE_NOT_OPEN" && !values.opens_at) {
    return t("error.SALE_NOT_OPEN_soon");
  }
  if (has(`error.${error.code}`)) return t(`error.${error.code}`, values);
  return t("error.unknown", values);
}

/** A fresh random UUID, in any browser context (randomUUID needs a secure one). */
export function randomId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    try {
      return window.crypto.randomUUID();
    } catch {
      // not a secure context: fall through
    }
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
