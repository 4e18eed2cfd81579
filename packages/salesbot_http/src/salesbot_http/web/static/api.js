// salesbot's pages talk to the JSON API like any client. The tokens live in this tab's
// sessionStorage: never in a cookie (so no request carries them unasked: nothing to forge),
// never in a URL. Every text from the API is put on the page with textContent, never as HTML.
"use strict";

const Salesbot = (() => {
  const KEY = "salesbot.session";

  function session() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch { return null; }
  }
  function keep(value) {
    if (value) sessionStorage.setItem(KEY, JSON.stringify(value));
    else sessionStorage.removeItem(KEY);
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function envelopeOf(response) {
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    if (!response.ok) {
      throw new ApiError(response.status, (body && body.message) || `HTTP ${response.status}`);
    }
    return body;
  }

  async function refresh() {
    const current = session();
    if (!current) return false;
    const response = await fetch("/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refreshToken: current.refreshToken }),
    });
    if (!response.ok) { keep(null); return false; }
    const body = await response.json();
    keep({ ...current, accessToken: body.data.accessToken, refreshToken: body.data.refreshToken });
    return true;
  }

  // A request with the access token, refreshed once when it has expired. ``json`` is sent as
  // JSON; ``body`` (a File, a string) as it is, with the ``headers`` given.
  async function call(path, options = {}, retry = true) {
    const current = session();
    const headers = { ...(options.headers || {}) };
    if (current) headers.Authorization = `Bearer ${current.accessToken}`;
    if (options.json !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: options.method || "GET",
      headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
    });
    if (response.status === 401 && retry && current && (await refresh())) {
      return call(path, options, false);
    }
    return response;
  }

  async function json(path, options = {}) {
    return envelopeOf(await call(path, options));
  }

  // One page of a paged list: its items and the cursor of the next page (from the Link
  // header, rel=next), or null on the last page.
  async function page(path) {
    const response = await call(path);
    const body = await envelopeOf(response);
    const link = /<[^>]*[?&]cursor=([^&>]+)[^>]*>;\s*rel="?next"?/.exec(response.headers.get("link") || "");
    return { items: body.data, next: link ? decodeURIComponent(link[1]) : null };
  }

  async function login(email, password) {
    const response = await fetch("/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    const body = await envelopeOf(response);
    keep({ accessToken: body.data.accessToken, refreshToken: body.data.refreshToken, user: body.data.user });
    return body.data.user;
  }

  async function register(name, email, password) {
    await envelopeOf(await fetch("/users/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name, email, password }),
    }));
    return login(email, password);
  }

  async function logout() {
    const current = session();
    if (current) {
      try { await call("/auth/logout", { method: "POST", json: { refreshToken: current.refreshToken } }); } catch { /* gone anyway */ }
    }
    keep(null);
  }

  // Server-Sent Events over a POST (EventSource can neither POST nor send a header).
  async function stream(path, payload, onEvent) {
    const response = await call(path, { method: "POST", json: payload });
    const type = response.headers.get("content-type") || "";
    if (!response.ok || !type.startsWith("text/event-stream")) {
      await envelopeOf(response);
      throw new ApiError(response.status, "unexpected answer");
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onEvent(event, JSON.parse(data.join("\n")));
      }
    }
  }

  // An element with attributes and children; strings become text nodes, never markup.
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "";
  }

  return { session, keep, call, json, page, login, register, logout, stream, el, when, ApiError };
})();
