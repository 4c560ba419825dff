// Strings, numbers, money and times in the fan's language: one catalogue per language
// (static/i18n/<lang>.json). The server picks the first language from Accept-Language
// (<html lang>); a fan's own choice, made with the switch, is kept in localStorage.

export const LANGUAGES = ["en", "ko"];
const CHOICE_KEY = "concert.lang";

let language = "en";
let strings = {};

function stored(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Load the catalogue of the fan's chosen language, else the page's. */
export async function loadLanguage(preferred) {
  const wanted = preferred || stored(CHOICE_KEY) || document.documentElement.lang || "en";
  language = LANGUAGES.includes(wanted) ? wanted : "en";
  const reply = await fetch(`/static/i18n/${language}.json`, { cache: "no-cache" });
  strings = await reply.json();
  document.documentElement.lang = language;
  return language;
}

/** Switch to ``next`` and remember the choice. */
export async function chooseLanguage(next) {
  try {
    window.localStorage.setItem(CHOICE_KEY, next);
  } catch {
    // private mode: the choice lasts for this page only
  }
  return loadLanguage(next);
}

export function currentLanguage() {
  return language;
}

export function otherLanguage() {
  return language === "ko" ? "en" : "ko";
}

export function has(key) {
  return Object.prototype.hasOwnProperty.call(strings, key);
}

/** The string ``key`` with ``{name}`` placeholders filled from ``values``. */
export function t(key, values = {}) {
  const template = has(key) ? strings[key] : key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole,
  );
}

/** Fill every element carrying data-i18n (text) or data-i18n-<attr> (an attribute). */
export function translatePage(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const attribute of ["aria-label", "placeholder", "title"]) {
    const dataName = `i18n${attribute.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase())}`;
    for (const element of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
      element.setAttribute(attribute, t(element.dataset[dataName]));
    }
  }
}

export function formatNumber(value) {
  return new Intl.NumberFormat(language).format(value);
}

export function formatMoney(won) {
  return t("money", { amount: formatNumber(won) });
}

export function formatDateTime(value) {
  const when = value instanceof Date ? value : new Date(value);
  return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" }).format(
    when,
  );
}

export function formatTime(value) {
  const when = value instanceof Date ? value : new Date(value);
  return new Intl.DateTimeFormat(language, { timeStyle: "medium" }).format(when);
}

export function formatDate(isoDate) {
  // A performance date (YYYY-MM-DD): a calendar day, shown without a time zone shift.
  const [year, month, day] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(language, {
    dateStyle: "full",
    timeZone: "UTC",
  }).format(new Date(Date.UTC(year, month - 1, day)));
}

/** A countdown: m:ss, or h:mm:ss past an hour. */
export function formatClock(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** An estimated wait, said roughly: "less than a minute", "about 5 minutes". */
export function formatWait(seconds) {
  if (seconds === null || seconds === undefined) return t("wait.unknown");
  if (seconds < 60) return t("wait.under_minute");
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return t("wait.minutes", { n: formatNumber(minutes) });
  return t("wait.hours", { n: formatNumber(Math.round(minutes / 6) / 10) });
}
