// The fan's page: concerts -> the waiting room -> seats, wallet, payment -> receipt.
// Plain ES module over the REST API (docs/api.md); strings from static/i18n.

import { call, describe, ProblemError, randomId } from "./api.js";
import { solveChallenge } from "./challenge.js";
import {
  chooseLanguage,
  currentLanguage,
  formatClock,
  formatDate,
  formatDateTime,
  formatMoney,
  formatNumber,
  formatTime,
  formatWait,
  loadLanguage,
  otherLanguage,
  t,
  translatePage,
} from "./i18n.js";

const USER_KEY = "concert.user";
const TICKET_KEY = "concert.ticket";
const ADMITTED_POLL_SECONDS = 5;
const LIST_REFRESH_SECONDS = 10;
const $ = (id) => document.getElementById(id);

// --- what the page remembers ----------------------------------------------------------

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function userId() {
  let id = storage()?.getItem(USER_KEY);
  if (!id) {
    id = randomId();
    storage()?.setItem(USER_KEY, id);
  }
  return id;
}

/** The fan's live entry: {concertId, title, token, firstPosition, holds: [..], payKey}. */
let ticket = null;

function saveTicket() {
  if (ticket) storage()?.setItem(TICKET_KEY, JSON.stringify(ticket));
  else storage()?.removeItem(TICKET_KEY);
}

function loadTicket() {
  try {
    return JSON.parse(storage()?.getItem(TICKET_KEY) || "null");
  } catch {
    return null;
  }
}

// --- views ----------------------------------------------------------------------------

const VIEWS = ["list", "challenge", "waiting", "admitted", "receipt"];
let view = null;
let lastStatus = null;

function show(name) {
  view = name;
  for (const each of VIEWS) $(`view-${each}`).hidden = each !== name;
  window.scrollTo(0, 0);
}

function announce(text) {
  const region = $("announce");
  if (region.textContent !== text) region.textContent = text;
}

function showError(error, context) {
  const box = $("error");
  box.textContent = typeof error === "string" ? error : describe(error, context);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// --- polling: at the service's hint, never while the tab is hidden ----------------------

let pollTimer = null;
let pollDue = null; // the function to run when the tab shows again

function schedule(task, seconds) {
  window.clearTimeout(pollTimer);
  pollTimer = null;
  pollDue = task;
  if (document.visibilityState === "hidden") return;
  pollTimer = window.setTimeout(() => {
    pollTimer = null;
    task();
  }, seconds * 1000);
}

function stopPolling() {
  window.clearTimeout(pollTimer);
  pollTimer = null;
  pollDue = null;
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") {
    window.clearTimeout(pollTimer);
    pollTimer = null;
  } else if (pollDue && pollTimer === null) {
    const task = pollDue;
    task();
  }
});

// --- ticking clocks (local only: no requests) -----------------------------------------

let clockTimer = null;

function tick() {
  const now = Date.now();
  if (view === "waiting" && lastStatus?.sale?.opens_at) {
    const left = (new Date(lastStatus.sale.opens_at).getTime() - now) / 1000;
    $("countdown").textContent = formatClock(left);
  }
  if (view === "admitted" && lastStatus?.active_until) {
    const left = (new Date(lastStatus.active_until).getTime() - now) / 1000;
    $("turn-remaining").textContent = formatClock(left);
    if (left <= 0 && pollTimer !== null) {
      // the turn's clock ran out: ask the service now rather than at the next poll
      schedule(pollStatus, 0.5);
    }
  }
  if (view === "admitted" && ticket) {
    for (const hold of ticket.holds) {
      const element = document.querySelector(`[data-hold="${hold.reservation_id}"]`);
      if (element) {
        element.textContent = formatClock((new Date(hold.held_until).getTime() - now) / 1000);
      }
    }
  }
}

// --- the concert list -----------------------------------------------------------------

let concerts = [];

async function showList(message) {
  stopPolling();
  ticket = null;
  saveTicket();
  show("list");
  if (message) announce(message);
  await refreshList();
}

async function refreshList() {
  try {
    concerts = await call("GET", "/concerts");
  } catch (error) {
    showError(error);
    schedule(refreshList, LIST_REFRESH_SECONDS);
    return;
  }
  renderList();
  schedule(refreshList, LIST_REFRESH_SECONDS);
}

function renderList() {
  const list = $("concerts");
  $("list-empty").hidden = concerts.length > 0;
  const focusedId = document.activeElement?.dataset?.concert;
  list.replaceChildren(
    ...concerts.map((concert) => {
      const item = document.createElement("li");
      item.className = "card";
      const heading = document.createElement("h2");
      heading.textContent = concert.title;
      const venue = document.createElement("p");
      venue.className = "muted";
      venue.textContent = concert.venue;
      const phase = document.createElement("p");
      const badge = document.createElement("span");
      badge.className = `badge phase-${concert.phase}`;
      badge.dataset.testid = "concert-phase";
      badge.textContent = t(`phase.${concert.phase}`);
      phase.append(badge);
      if (concert.opens_at) {
        const opens = document.createElement("span");
        opens.className = "opens";
        opens.textContent = t("list.opens_at", { time: formatDateTime(concert.opens_at) });
        phase.append(" ", opens);
      }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "primary";
      button.dataset.concert = String(concert.concert_id);
      const closed = concert.phase === "SOLD_OUT" || concert.phase === "CLOSED";
      button.disabled = closed;
      const label = document.createElement("span");
      label.textContent = t("list.join");
      const which = document.createElement("span");
      which.className = "visually-hidden";
      which.textContent = ` ${concert.title}`;
      button.append(label, which);
      button.addEventListener("click", () => join(concert));
      item.append(heading, venue, phase, button);
      return item;
    }),
  );
  if (focusedId) list.querySelector(`[data-concert="${focusedId}"]`)?.focus();
}

// --- joining ----------------------------------------------------------------------------

async function join(concert) {
  clearError();
  const body = { user_id: userId(), concert_id: concert.concert_id };
  let reply;
  try {
    reply = await call("POST", "/queue/tokens", { body });
  } catch (error) {
    if (!(error instanceof ProblemError) || error.code !== "CHALLENGE_FAILED") {
      showError(error);
      return;
    }
    try {
      reply = await joinWithChallenge(concert, body);
    } catch (again) {
      show("list");
      showError(again);
      return;
    }
  }
  ticket = {
    concertId: concert.concert_id,
    title: concert.title,
    token: reply.token,
    firstPosition: reply.position,
    holds: [],
    payKey: null,
  };
  saveTicket();
  onStatus(reply);
}

async function joinWithChallenge(concert, body) {
  stopPolling();
  show("challenge");
  announce(t("challenge.heading"));
  const bar = $("challenge-bar");
  const proof = await solveChallenge(concert.concert_id, (percent) => {
    bar.setAttribute("aria-valuenow", String(percent));
    bar.firstElementChild.style.width = `${percent}%`;
  });
  return call("POST", "/queue/tokens", { body: { ...body, proof } });
}

// --- the waiting room -----------------------------------------------------------------

async function pollStatus() {
  if (!ticket) return;
  let status;
  try {
    status = await call("GET", "/queue/status", { bearer: ticket.token });
  } catch (error) {
    if (error instanceof ProblemError && error.status === 401) {
      await showList(t("waiting.lost"));
      showError(t("waiting.lost"));
      return;
    }
    showError(error);
    schedule(pollStatus, Math.max(2, error.retryAfter || 2));
    return;
  }
  onStatus(status);
}

function onStatus(status) {
  const before = lastStatus;
  lastStatus = status;
  if (status.status === "ACTIVE") {
    if (view !== "admitted") enterAdmitted(status);
    else renderTurn(status);
    schedule(pollStatus, Math.max(status.poll_after_seconds, ADMITTED_POLL_SECONDS));
    return;
  }
  if (status.status === "EXPIRED") {
    onExpired(status, before);
    return;
  }
  clearError();
  renderWaiting(status, before);
  schedule(pollStatus, Math.max(1, status.poll_after_seconds));
}

function phaseSentence(status) {
  const phase = status.sale.phase;
  if (phase === "PREQUEUE") {
    return t("explain.PREQUEUE", { time: formatTime(status.sale.opens_at) });
  }
  return t(`explain.${phase}`);
}

function renderWaiting(status, before) {
  if (view !== "waiting") show("waiting");
  $("waiting-heading").textContent = t("waiting.heading", { title: ticket.title });
  const phase = status.sale.phase;
  $("phase").textContent = t(`phase.${phase}`);
  $("phase").className = `badge phase-${phase}`;
  $("phase-explain").textContent = phaseSentence(status);
  renderMessage($("message"), $("message-text"), status.sale.message);
  const counting = (phase === "PREQUEUE" || phase === "SCHEDULED") && status.sale.opens_at;
  $("countdown-box").hidden = !counting;
  const position = status.position;
  $("position").textContent =
    position === null ? t("waiting.position_drawn") : formatNumber(position);
  $("estimated-wait").textContent =
    position === null ? t("waiting.after_opening") : formatWait(status.estimated_wait_seconds);
  if (position !== null) {
    if (!ticket.firstPosition || position > ticket.firstPosition) {
      ticket.firstPosition = position;
      saveTicket();
    }
  }
  const first = ticket.firstPosition || position || 1;
  const percent =
    position === null ? 0 : Math.round((100 * (first - position + 1)) / Math.max(first, 1));
  const bar = $("progress");
  bar.setAttribute("aria-valuenow", String(percent));
  bar.setAttribute(
    "aria-valuetext",
    position === null ? t("waiting.position_drawn") : t("waiting.progress_text", { position }),
  );
  bar.firstElementChild.style.width = `${percent}%`;
  const now = new Date();
  $("last-updated").textContent = formatTime(now);
  $("last-updated").dateTime = now.toISOString();
  $("leave").hidden = false;
  $("back-from-waiting").hidden = true;
  // Said to screen readers only when something a fan cares about changed.
  const changed =
    !before ||
    before.sale.phase !== phase ||
    before.position !== position ||
    before.sale.message !== status.sale.message;
  if (changed) {
    announce(
      position === null
        ? `${t(`phase.${phase}`)}. ${phaseSentence(status)}`
        : `${t(`phase.${phase}`)}. ${t("waiting.announce", {
            position: formatNumber(position),
            wait: formatWait(status.estimated_wait_seconds),
          })}`,
    );
  }
  tick();
}

function renderMessage(box, text, message) {
  box.hidden = !message;
  (text || box).textContent = message || "";
}

function onExpired(status, before) {
  stopPolling();
  const phase = status.sale.phase;
  if (view === "waiting" || view === null || view === "challenge") {
    if (view !== "waiting") show("waiting");
    $("waiting-heading").textContent = t("waiting.heading", { title: ticket.title });
    $("phase").textContent = t(`phase.${phase}`);
    $("phase").className = `badge phase-${phase}`;
    const sentence =
      phase === "SOLD_OUT" || phase === "CLOSED" ? t(`explain.${phase}`) : t("waiting.expired");
    $("phase-explain").textContent = sentence;
    $("position").textContent = "—";
    $("estimated-wait").textContent = "—";
    $("countdown-box").hidden = true;
    $("leave").hidden = true;
    $("back-from-waiting").hidden = false;
    const stamp = new Date();
    $("last-updated").textContent = formatTime(stamp);
    announce(`${t(`phase.${phase}`)}. ${sentence}`);
    ticket = null;
    saveTicket();
    return;
  }
  // an admitted fan whose turn ended (time ran out, or paid elsewhere)
  showList(t("admitted.turn_over")).then(() => showError(t("admitted.turn_over")));
  void before;
}

async function leave() {
  const token = ticket?.token;
  stopPolling();
  if (token) {
    try {
      await call("DELETE", "/queue/tokens/me", { bearer: token });
    } catch {
      // the token may have lapsed already: leaving is done either way
    }
  }
  await showList(t("waiting.left"));
}

// --- admitted: dates, seats, holds, wallet, payment -------------------------------------

let dates = [];
let chosenDate = null;
let seats = [];
let balance = 0;

async function enterAdmitted(status) {
  show("admitted");
  $("admitted-heading").textContent = t("admitted.heading", { title: ticket.title });
  announce(t("admitted.announce"));
  renderTurn(status);
  await Promise.all([loadDates(), loadBalance(), restoreHolds()]);
  $("admitted-heading").focus?.();
}

function renderTurn(status) {
  renderMessage($("admitted-message"), null, status.sale.message);
  tick();
}

async function restoreHolds() {
  const kept = [];
  for (const hold of ticket.holds) {
    try {
      const fresh = await call("GET", `/reservations/${hold.reservation_id}`, {
        bearer: ticket.token,
      });
      if (fresh.status === "HELD" && new Date(fresh.held_until).getTime() > Date.now()) {
        kept.push(fresh);
      }
    } catch {
      // gone: forget it
    }
  }
  ticket.holds = kept;
  saveTicket();
  renderHolds();
}

async function loadDates() {
  try {
    dates = await call("GET", `/concerts/${ticket.concertId}/dates`, { bearer: ticket.token });
  } catch (error) {
    onTurnError(error);
    return;
  }
  $("dates-empty").hidden = dates.length > 0;
  if (!dates.some((d) => d.date === chosenDate)) chosenDate = dates[0]?.date ?? null;
  renderDates();
  await loadSeats();
}

function renderDates() {
  $("dates").replaceChildren(
    ...dates.map((d) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "chip";
      button.setAttribute("aria-pressed", String(d.date === chosenDate));
      button.textContent = t("admitted.date_option", {
        date: formatDate(d.date),
        n: formatNumber(d.available_seats),
      });
      button.addEventListener("click", async () => {
        chosenDate = d.date;
        renderDates();
        await loadSeats();
      });
      return button;
    }),
  );
}

async function loadSeats() {
  if (!chosenDate) {
    $("seat-map").replaceChildren();
    return;
  }
  let map;
  try {
    map = await call("GET", `/concerts/${ticket.concertId}/dates/${chosenDate}/seats`, {
      bearer: ticket.token,
    });
  } catch (error) {
    onTurnError(error);
    return;
  }
  seats = map.seats;
  renderSeats();
}

/** The prices by runs of seats ("Seats 1-10: 150,000 won"), for eyes: each seat's
button says its own price to screen readers. */
function renderBands() {
  const bands = [];
  for (const seat of seats) {
    const last = bands[bands.length - 1];
    if (last && last.price === seat.price && last.to === seat.seat_no - 1) last.to = seat.seat_no;
    else bands.push({ from: seat.seat_no, to: seat.seat_no, price: seat.price });
  }
  $("price-bands").replaceChildren(
    ...bands.map((band) => {
      const item = document.createElement("li");
      item.textContent = t("seat.band", {
        from: band.from,
        to: band.to,
        price: formatMoney(band.price),
      });
      return item;
    }),
  );
}

function renderSeats() {
  renderBands();
  const grid = $("seat-map");
  // Buttons are kept and updated in place, so a keyboard user's focus stays put.
  if (grid.children.length !== seats.length || grid.dataset.date !== chosenDate) {
    grid.dataset.date = chosenDate;
    grid.replaceChildren(
      ...seats.map((seat) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "seat";
        button.dataset.seat = String(seat.seat_no);
        button.addEventListener("click", () => hold(Number(button.dataset.seat)));
        return button;
      }),
    );
  }
  seats.forEach((seat, index) => {
    const button = grid.children[index];
    const mine = ticket.holds.some((h) => h.date === chosenDate && h.seat_no === seat.seat_no);
    const state = mine ? "mine" : seat.status === "AVAILABLE" ? "available" : "taken";
    button.textContent = String(seat.seat_no);
    button.className = `seat ${state}`;
    button.disabled = seat.status !== "AVAILABLE";
    button.setAttribute(
      "aria-label",
      t(`seat.label_${state}`, { no: seat.seat_no, price: formatMoney(seat.price) }),
    );
  });
}

async function hold(seatNo) {
  clearError();
  let reservation;
  try {
    reservation = await call("POST", "/reservations", {
      bearer: ticket.token,
      body: { concert_id: ticket.concertId, date: chosenDate, seat_no: seatNo },
    });
  } catch (error) {
    onTurnError(error, { seat: seatNo });
    await loadSeats();
    return;
  }
  if (!ticket.holds.some((h) => h.reservation_id === reservation.reservation_id)) {
    ticket.holds.push(reservation);
  }
  ticket.payKey = null; // a different set of seats: a different payment
  saveTicket();
  announce(
    t("hold.announce", {
      no: seatNo,
      price: formatMoney(reservation.price),
      time: formatTime(reservation.held_until),
    }),
  );
  renderHolds();
  await Promise.all([loadDates(), refreshTurn()]);
}

async function refreshTurn() {
  try {
    const status = await call("GET", "/queue/status", { bearer: ticket.token });
    lastStatus = status;
    if (status.status !== "ACTIVE") onStatus(status);
    else tick();
  } catch {
    // the next poll will tell
  }
}

async function release(reservation) {
  clearError();
  try {
    await call("DELETE", `/reservations/${reservation.reservation_id}`, { bearer: ticket.token });
  } catch (error) {
    onTurnError(error);
    return;
  }
  ticket.holds = ticket.holds.filter((h) => h.reservation_id !== reservation.reservation_id);
  ticket.payKey = null;
  saveTicket();
  announce(t("hold.released", { no: reservation.seat_no }));
  renderHolds();
  await Promise.all([loadSeats(), refreshTurn()]);
}

function renderHolds() {
  const list = $("holds");
  $("holds-empty").hidden = ticket.holds.length > 0;
  list.replaceChildren(
    ...ticket.holds.map((reservation) => {
      const item = document.createElement("li");
      const what = document.createElement("span");
      what.textContent = t("hold.line", {
        no: reservation.seat_no,
        date: formatDate(reservation.date),
        price: formatMoney(reservation.price),
      });
      const left = document.createElement("span");
      left.className = "muted";
      const label = document.createElement("span");
      label.textContent = ` ${t("hold.left")} `;
      const clock = document.createElement("strong");
      clock.className = "clock";
      clock.dataset.testid = "hold-countdown";
      clock.dataset.hold = reservation.reservation_id;
      left.append(label, clock);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary small";
      button.textContent = t("hold.release", { no: reservation.seat_no });
      button.addEventListener("click", () => release(reservation));
      item.append(what, left, button);
      return item;
    }),
  );
  renderPay();
  tick();
}

function total() {
  return ticket.holds.reduce((sum, h) => sum + h.price, 0);
}

function renderPay() {
  const due = total();
  const pay = $("pay");
  pay.disabled = ticket.holds.length === 0;
  pay.textContent = due > 0 ? t("pay.button", { amount: formatMoney(due) }) : t("pay.nothing");
  const amount = $("topup-amount");
  if (!amount.value || document.activeElement !== amount) {
    amount.value = String(Math.max(1, Math.min(10000000, due - balance > 0 ? due - balance : 100000)));
  }
}

async function loadBalance() {
  try {
    const reply = await call("GET", `/users/${userId()}/balance`);
    balance = reply.balance;
  } catch (error) {
    showError(error);
    return;
  }
  $("balance").textContent = formatMoney(balance);
  renderPay();
}

async function topUp(event) {
  event.preventDefault();
  clearError();
  const amount = Number($("topup-amount").value);
  if (!Number.isInteger(amount) || amount < 1 || amount > 10000000) {
    showError(t("wallet.bad_amount"));
    $("topup-amount").focus();
    return;
  }
  try {
    const reply = await call("POST", `/users/${userId()}/balance/charge`, {
      body: { amount },
      headers: { "Idempotency-Key": randomId() },
    });
    balance = reply.balance;
  } catch (error) {
    showError(error);
    return;
  }
  $("balance").textContent = formatMoney(balance);
  announce(t("wallet.topped_up", { balance: formatMoney(balance) }));
  $("topup-amount").value = "";
  renderPay();
}

async function pay() {
  clearError();
  if (ticket.holds.length === 0) return;
  const ids = ticket.holds.map((h) => h.reservation_id);
  if (!ticket.payKey) {
    ticket.payKey = randomId(); // the same key for every retry of this payment
    saveTicket();
  }
  const paidFor = { title: ticket.title, holds: ticket.holds.slice() };
  let receipt;
  try {
    receipt = await call("POST", "/payments", {
      bearer: ticket.token,
      body: { reservation_ids: ids },
      headers: { "Idempotency-Key": ticket.payKey },
    });
  } catch (error) {
    if (error instanceof ProblemError && error.code === "INSUFFICIENT_BALANCE") {
      showError(error, { balance: formatMoney(balance), amount: formatMoney(total()) });
      $("topup-amount").focus();
    } else {
      onTurnError(error);
    }
    return;
  }
  stopPolling();
  ticket = null;
  saveTicket();
  showReceipt(receipt, paidFor);
}

function showReceipt(receipt, paidFor) {
  show("receipt");
  $("receipt-id").textContent = receipt.payment_id;
  $("receipt-concert").textContent = paidFor.title;
  $("receipt-seats").textContent = paidFor.holds
    .map((h) => t("receipt.seat", { no: h.seat_no, date: formatDate(h.date) }))
    .join(", ");
  $("receipt-amount").textContent = formatMoney(receipt.amount);
  $("receipt-balance").textContent = formatMoney(receipt.balance);
  $("receipt-time").textContent = formatDateTime(receipt.paid_at);
  announce(t("receipt.announce", { id: receipt.payment_id }));
  $("receipt-heading").setAttribute("tabindex", "-1");
  $("receipt-heading").focus();
}

/** An error while admitted: a sentence; a turn that has ended goes back to the list. */
function onTurnError(error, context) {
  if (
    error instanceof ProblemError &&
    (error.code === "TOKEN_NOT_ACTIVE" || error.code === "TOKEN_INVALID")
  ) {
    showList(t("admitted.turn_over")).then(() => showError(t("admitted.turn_over")));
    return;
  }
  showError(error, context);
}

// --- start ----------------------------------------------------------------------------

function renderLanguageSwitch() {
  const button = $("language");
  const next = otherLanguage();
  button.lang = next;
  button.textContent = t(`language.${next}`);
  button.setAttribute("aria-label", t("language.switch", { language: t(`language.${next}`) }));
}

async function rerender() {
  translatePage();
  renderLanguageSwitch();
  document.title = t("app.title");
  if (view === "list") renderList();
  if (view === "waiting" && lastStatus && ticket) renderWaiting(lastStatus, lastStatus);
  if (view === "admitted" && ticket) {
    $("admitted-heading").textContent = t("admitted.heading", { title: ticket.title });
    renderDates();
    renderSeats();
    renderHolds();
    $("balance").textContent = formatMoney(balance);
  }
}

async function start() {
  await loadLanguage();
  translatePage();
  renderLanguageSwitch();
  document.title = t("app.title");
  $("user-id").textContent = userId();
  $("language").addEventListener("click", async () => {
    await chooseLanguage(otherLanguage());
    await rerender();
    announce(t("language.changed"));
  });
  $("leave").addEventListener("click", leave);
  $("leave-turn").addEventListener("click", leave);
  $("back-from-waiting").addEventListener("click", () => showList());
  $("back-from-receipt").addEventListener("click", () => showList());
  $("topup").addEventListener("submit", topUp);
  $("pay").addEventListener("click", pay);
  clockTimer = window.setInterval(tick, 1000);
  void clockTimer;
  void currentLanguage;

  ticket = loadTicket();
  if (ticket?.token) {
    ticket.holds ||= [];
    view = null;
    await pollStatus(); // back where the fan was: waiting, admitted, or the list
    if (view === null) await showList();
  } else {
    await showList();
  }
}

start();
