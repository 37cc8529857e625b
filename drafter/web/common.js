// What drafter's pages share (the clinician inbox, the template editor): the API call with the bearer token,
// and DOM helpers that only ever make text nodes. Plain ES module, no build step, served from 'self'.
// Safety rule: text from the API (patient messages, model output, template files) reaches the page only as text
// nodes (append / textContent / value), never as HTML.

export const TOKEN_KEY = "drafter.token";

export const $ = (id) => document.getElementById(id);

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** An element with attributes and children; strings become text nodes, never markup. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) el.append(child);
  }
  return el;
}

/** Say something to screen readers through the page's polite live region (#announce). */
export function announce(text) {
  const region = $("announce");
  region.textContent = "";
  window.setTimeout(() => { region.textContent = text; }, 50);
}

let unauthorized = () => {};

/** What the page does when the API refuses the token (401): usually sign out and show the sign-in form. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/** A call to the API with the tab's token; throws ApiError with the error body's code, message and details. */
export async function api(path, { method = "GET", body, signal, accept } = {}) {
  const headers = new Headers();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (body !== undefined) headers.set("Content-Type", "application/json");
  if (accept) headers.set("Accept", accept);
  const response = await fetch(path, {
    method, headers, signal, cache: "no-store", credentials: "omit",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.ok) return response;
  let error = {};
  try { error = (await response.json()).error || {}; } catch { /* not JSON */ }
  if (response.status === 401) unauthorized("Your token is not valid or has expired. Sign in again.");
  throw new ApiError(response.status, error.code || "http_error",
    error.message || `The server answered ${response.status}.`, error.details);
}

export const json = async (path, options) => (await api(path, options)).json();

// The sign-in form: keep the token for this tab, open the session with `start`, then `focus` (a 401 has already
// sent the user back to the form through onUnauthorized; any other error is shown there).
export function bindSignIn({ start, showLogin, focus }) {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      await start();
      focus();
    } catch (error) {
      if (error.status !== 401) showLogin(error.message);
    }
  });
}
