// The operator's dashboard: sign in with the operator key (kept in sessionStorage, sent
// as Authorization: Bearer, never in a URL), watch every on-sale refreshed every 1.5 s,
// add concerts and steer their sales (docs/api.md, "Operators").

import { call, describe, ProblemError } from "./api.js";
import {
  chooseLanguage,
  formatDate,
  formatDateTime,
  formatMoney,
  formatNumber,
  formatTime,
  loadLanguage,
  otherLanguage,
  t,
  translatePage,
} from "./i18n.js";

const KEY_STORE = "concert.operatorKey";
const REFRESH_MS = 1500;
const $ = (id) => document.getElementById(id);

let key = null;
let refreshTimer = null;
let latest = [];
const cards = new Map(); // concert_id -> {root, fields...}

function announce(text) {
  $("announce").textContent = text;
}

function showError(error) {
  $("error").textContent = typeof error === "string" ? error : describe(error);
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function admin(method, path, body) {
  return call(method, `/admin${path}`, { body, bearer: key });
}

// --- signing in and out ---------------------------------------------------------------

function readKey() {
  try {
    return window.sessionStorage.getItem(KEY_STORE);
  } catch {
    return null;
  }
}

function keepKey(value) {
  try {
    if (value) window.sessionStorage.setItem(KEY_STORE, value);
    else window.sessionStorage.removeItem(KEY_STORE);
  } catch {
    // storage off: the key lasts while the page is open
  }
}

async function signIn(event) {
  event.preventDefault();
  clearError();
  key = $("key").value.trim();
  try {
    latest = await admin("GET", "/concerts");
  } catch (error) {
    key = null;
    showError(error);
    $("key").focus();
    return;
  }
  keepKey(key);
  $("key").value = "";
  showDashboard();
}

function signOut(message) {
  window.clearTimeout(refreshTimer);
  refreshTimer = null;
  key = null;
  keepKey(null);
  cards.clear();
  $("concert-list").replaceChildren();
  $("view-dashboard").hidden = true;
  $("view-sign-in").hidden = false;
  $("sign-out").hidden = true;
  if (message) showError(message);
}

function showDashboard() {
  $("view-sign-in").hidden = true;
  $("view-dashboard").hidden = false;
  $("sign-out").hidden = false;
  render();
  scheduleRefresh();
}

// --- refreshing -----------------------------------------------------------------------

function scheduleRefresh() {
  window.clearTimeout(refreshTimer);
  refreshTimer = null;
  if (!key || document.visibilityState === "hidden") return;
  refreshTimer = window.setTimeout(refresh, REFRESH_MS);
}

async function refresh() {
  refreshTimer = null;
  if (!key) return;
  try {
    latest = await admin("GET", "/concerts");
  } catch (error) {
    if (error instanceof ProblemError && error.code === "ADMIN_KEY_INVALID") {
      signOut(describe(error));
      return;
    }
    showError(error);
  }
  render();
  scheduleRefresh();
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && key && refreshTimer === null) refresh();
  else if (document.visibilityState === "hidden") window.clearTimeout(refreshTimer);
});

// --- the concerts ---------------------------------------------------------------------

function render() {
  $("no-concerts").hidden = latest.length > 0;
  const list = $("concert-list");
  for (const view of latest) {
    let card = cards.get(view.concert_id);
    if (!card) {
      card = buildCard(view);
      cards.set(view.concert_id, card);
      list.append(card.root);
    }
    fillCard(card, view);
  }
  const now = new Date();
  $("updated").textContent = formatTime(now);
  $("updated").dateTime = now.toISOString();
}

function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node && name !== "for") node[name] = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function named(text, title) {
  // A button's visible text, with the concert's title for screen readers.
  return [element("span", {}, text), element("span", { className: "visually-hidden" }, ` ${title}`)];
}

function stat(label, testid) {
  const value = element("dd", { dataset: { testid } });
  return { row: element("div", {}, element("dt", {}, label), value), value };
}

function buildCard(view) {
  const id = view.concert_id;
  const headingId = `concert-${id}-title`;
  const heading = element("h2", { id: headingId });
  const stats = {
    phase: stat(t("admin.phase"), "admin-phase"),
    waiting: stat(t("admin.waiting"), "admin-waiting"),
    active: stat(t("admin.active"), "admin-active"),
    admitted: stat(t("admin.admitted"), "admin-admitted"),
    revenue: stat(t("admin.revenue"), "admin-revenue"),
    opens: stat(t("admin.opens"), "admin-opens"),
    message: stat(t("admin.message_now"), "admin-message"),
  };
  const statList = element("dl", { className: "facts" }, ...Object.values(stats).map((s) => s.row));
  const body = element("tbody");
  const table = element(
    "table",
    {},
    element("caption", {}, t("admin.seats_caption")),
    element(
      "thead",
      {},
      element(
        "tr",
        {},
        element("th", { scope: "col" }, t("admin.date")),
        element("th", { scope: "col" }, t("admin.available")),
        element("th", { scope: "col" }, t("admin.held")),
        element("th", { scope: "col" }, t("admin.sold")),
      ),
    ),
    body,
  );
  const title = view.title;
  const actions = element("div", { className: "actions" });
  const buttons = {};
  for (const [name, label] of [
    ["open", "admin.open_now"],
    ["pause", "admin.pause"],
    ["resume", "admin.resume"],
    ["close", "admin.close"],
  ]) {
    buttons[name] = element(
      "button",
      { type: "button", className: name === "close" ? "danger" : "secondary" },
      ...named(t(label), title),
    );
    buttons[name].addEventListener("click", () => act(id, name));
    actions.append(buttons[name]);
  }
  const field = (name, label, input) => {
    input.id = `concert-${id}-${name}`;
    return [element("label", { for: input.id }, label), input];
  };
  const inputs = {
    capacity: element("input", { type: "number", min: "1", step: "1", name: "capacity" }),
    rate: element("input", { type: "number", min: "1", step: "1", name: "rate" }),
    challenge: element("input", { type: "checkbox", name: "challenge" }),
    message: element("textarea", { name: "message", maxLength: 500, rows: 2 }),
  };
  const challengeRow = element(
    "div",
    { className: "check" },
    inputs.challenge,
    element("label", { for: `concert-${id}-challenge` }, t("admin.challenge")),
  );
  inputs.challenge.id = `concert-${id}-challenge`;
  const form = element(
    "form",
    { className: "stack settings", "aria-label": t("admin.settings_for", { title }) },
    ...field("capacity", t("admin.capacity"), inputs.capacity),
    ...field("rate", t("admin.rate"), inputs.rate),
    challengeRow,
    ...field("message", t("admin.message"), inputs.message),
    element("button", { type: "submit", className: "primary" }, ...named(t("admin.save"), title)),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(id, inputs);
  });
  const root = element(
    "article",
    { className: "card admin-card", "aria-labelledby": headingId, dataset: { concert: String(id) } },
    heading,
    statList,
    table,
    actions,
    form,
  );
  const card = { root, heading, stats, body, buttons, inputs, filled: false };
  return card;
}

function fillCard(card, view) {
  const sale = view.sale;
  card.heading.textContent = `${view.title} · ${view.venue} (#${view.concert_id})`;
  card.stats.phase.value.textContent = t(`phase.${sale.phase}`);
  card.stats.phase.value.className = `badge phase-${sale.phase}`;
  card.stats.waiting.value.textContent = formatNumber(view.queue.waiting);
  card.stats.active.value.textContent = `${formatNumber(view.queue.active)} / ${formatNumber(sale.capacity)}`;
  card.stats.admitted.value.textContent = formatNumber(view.queue.admitted_last_minute);
  card.stats.revenue.value.textContent = formatMoney(view.revenue);
  card.stats.opens.value.textContent = sale.opens_at ? formatDateTime(sale.opens_at) : t("admin.open_at_once");
  card.stats.message.value.textContent = sale.message || t("admin.none");
  card.body.replaceChildren(
    ...view.dates.map((d) =>
      element(
        "tr",
        {},
        element("th", { scope: "row" }, formatDate(d.date)),
        element("td", {}, formatNumber(d.available)),
        element("td", {}, formatNumber(d.held)),
        element("td", {}, formatNumber(d.sold)),
      ),
    ),
  );
  card.buttons.pause.disabled = sale.paused || sale.phase === "SOLD_OUT" || sale.phase === "CLOSED";
  card.buttons.resume.disabled = !sale.paused;
  card.buttons.open.disabled = sale.phase !== "SCHEDULED" && sale.phase !== "PREQUEUE" && !(sale.phase === "PAUSED" && sale.opens_at && new Date(sale.opens_at) > new Date());
  card.buttons.close.disabled = sale.phase === "CLOSED";
  if (!card.filled) fillSettings(card, view);
}

function fillSettings(card, view) {
  const sale = view.sale;
  card.inputs.capacity.value = String(sale.capacity);
  card.inputs.rate.value = sale.admission_per_minute === null ? "" : String(sale.admission_per_minute);
  card.inputs.challenge.checked = sale.join_challenge;
  card.inputs.message.value = sale.message || "";
  card.filled = true;
}

async function patch(id, changes, done) {
  clearError();
  let view;
  try {
    view = await admin("PATCH", `/concerts/${id}/sale`, changes);
  } catch (error) {
    showError(error);
    return;
  }
  latest = latest.map((each) => (each.concert_id === id ? view : each));
  const card = cards.get(id);
  fillCard(card, view);
  fillSettings(card, view);
  announce(t(done, { title: view.title }));
}

function act(id, action) {
  const view = latest.find((each) => each.concert_id === id);
  const now = new Date().toISOString();
  if (action === "pause") return patch(id, { paused: true }, "admin.done_pause");
  if (action === "resume") return patch(id, { paused: false }, "admin.done_resume");
  if (action === "close") {
    if (!window.confirm(t("admin.confirm_close", { title: view?.title ?? "" }))) return null;
    return patch(id, { closes_at: now }, "admin.done_close");
  }
  // open now: the line opens at once (a pre-queue not yet begun is dropped: none joined it)
  const changes = { opens_at: now, paused: false };
  const prequeue = view?.sale.prequeue_opens_at;
  if (prequeue && new Date(prequeue) > new Date()) changes.prequeue_opens_at = null;
  return patch(id, changes, "admin.done_open");
}

function save(id, inputs) {
  const capacity = inputs.capacity.value.trim();
  const rate = inputs.rate.value.trim();
  const message = inputs.message.value.trim();
  const changes = {
    capacity: capacity === "" ? null : Number(capacity),
    admission_per_minute: rate === "" ? null : Number(rate),
    join_challenge: inputs.challenge.checked,
    message: message === "" ? null : message,
  };
  for (const name of ["capacity", "admission_per_minute"]) {
    if (changes[name] !== null && !(Number.isInteger(changes[name]) && changes[name] >= 1)) {
      showError(t("admin.bad_number"));
      return null;
    }
  }
  return patch(id, changes, "admin.done_save");
}

// --- adding a concert -----------------------------------------------------------------

function localToIso(value) {
  // a datetime-local value is the operator's wall clock: send it with its offset
  return value ? new Date(value).toISOString() : undefined;
}

async function create(event) {
  event.preventDefault();
  clearError();
  const form = event.target;
  const dates = form.dates.value
    .split(/[,\s]+/)
    .map((d) => d.trim())
    .filter(Boolean);
  const body = {
    title: form.title.value.trim(),
    venue: form.venue.value.trim(),
    dates,
    price: Number(form.price.value),
  };
  const sale = {};
  const prequeue = localToIso(form.prequeue.value);
  const opens = localToIso(form.opens.value);
  if (prequeue) sale.prequeue_opens_at = prequeue;
  if (opens) sale.opens_at = opens;
  if (Object.keys(sale).length) body.sale = sale;
  let view;
  try {
    view = await admin("POST", "/concerts", body);
  } catch (error) {
    showError(error);
    return;
  }
  latest = [...latest.filter((each) => each.concert_id !== view.concert_id), view];
  render();
  form.reset();
  form.dates.value = nextWeek();
  announce(t("admin.done_create", { title: view.title }));
}

function nextWeek() {
  const day = new Date(Date.now() + 7 * 86400000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`;
}

// --- start ----------------------------------------------------------------------------

function renderLanguageSwitch() {
  const next = otherLanguage();
  const button = $("language");
  button.lang = next;
  button.textContent = t(`language.${next}`);
  button.setAttribute("aria-label", t("language.switch", { language: t(`language.${next}`) }));
}

async function start() {
  await loadLanguage();
  translatePage();
  renderLanguageSwitch();
  document.title = t("admin.title");
  $("new-dates").value = nextWeek();
  $("language").addEventListener("click", async () => {
    await chooseLanguage(otherLanguage());
    translatePage();
    renderLanguageSwitch();
    document.title = t("admin.title");
    // cards are built in the language of their day: rebuild them in the new one
    cards.clear();
    $("concert-list").replaceChildren();
    if (key) render();
  });
  $("sign-in").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut());
  $("create").addEventListener("submit", create);
  key = readKey();
  if (key) {
    try {
      latest = await admin("GET", "/concerts");
      showDashboard();
      return;
    } catch (error) {
      signOut(describe(error));
      return;
    }
  }
  signOut();
}

start();
