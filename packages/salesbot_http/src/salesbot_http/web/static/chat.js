// The chat to try: log in or register, then talk; the reply streams in as it is written.
"use strict";

(() => {
  const { el } = Salesbot;
  const $ = (id) => document.getElementById(id);
  let current = null; // the open conversation's id

  function show(signedIn) {
    $("auth").hidden = signedIn;
    $("chat").hidden = !signedIn;
    $("logout").hidden = !signedIn;
    if (signedIn) { loadConversations(); $("message").focus(); }
  }

  function bubble(sender, text) {
    const item = el("li", { class: `message ${sender}` }, el("span", { class: "who" }, sender === "user" ? "You" : "Assistant"), el("p", {}, text));
    $("messages").append(item);
    item.scrollIntoView({ block: "end" });
    return item.querySelector("p");
  }

  async function loadConversations() {
    try {
      const body = await Salesbot.json("/chat/conversations?limit=50");
      const list = $("conversation-list");
      list.replaceChildren(...body.data.map((c) => el("li", {},
        el("button", { type: "button", class: c.id === current ? "link active" : "link", "data-id": c.id, onclick: () => open(c.id) }, c.title))));
    } catch (error) { failed(error); }
  }

  async function open(id) {
    try {
      const body = await Salesbot.json(`/chat/conversations/${encodeURIComponent(id)}/history`);
      current = id;
      $("talk-title").textContent = body.data.title;
      $("messages").replaceChildren();
      for (const m of body.data.messages) bubble(m.sender, m.content);
      loadConversations();
    } catch (error) { failed(error); }
  }

  function failed(error) {
    if (error.status === 401) { Salesbot.keep(null); show(false); return; }
    $("chat-error").textContent = error.message;
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("auth-error").textContent = "";
    try { await Salesbot.login($("login-email").value, $("login-password").value); show(true); }
    catch (error) { $("auth-error").textContent = error.message; }
  });

  $("register-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("auth-error").textContent = "";
    try {
      await Salesbot.register($("register-name").value, $("register-email").value, $("register-password").value);
      show(true);
    } catch (error) { $("auth-error").textContent = error.message; }
  });

  $("logout").addEventListener("click", async () => { await Salesbot.logout(); current = null; show(false); });

  $("new-conversation").addEventListener("click", () => {
    current = null;
    $("talk-title").textContent = "New conversation";
    $("messages").replaceChildren();
    loadConversations();
    $("message").focus();
  });

  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("send-form").requestSubmit(); }
  });

  $("send-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = $("message").value.trim();
    if (!content) return;
    $("chat-error").textContent = "";
    $("send").disabled = true;
    bubble("user", content);
    const reply = bubble("bot", "");
    reply.parentElement.classList.add("streaming");
    const payload = current ? { content, conversationId: current } : { content };
    try {
      await Salesbot.stream("/chat/send/stream", payload, (name, data) => {
        if (name === "delta") {
          reply.textContent += data.text;
          reply.parentElement.dataset.pieces = String(Number(reply.parentElement.dataset.pieces || 0) + 1);
        }
        else if (name === "done") {
          current = data.conversation.id;
          $("talk-title").textContent = data.conversation.title;
          reply.parentElement.classList.remove("streaming");
          reply.parentElement.dataset.done = "true";
          reply.parentElement.dataset.messageId = data.botMessage.id;
        } else if (name === "error") throw new Salesbot.ApiError(data.status, data.message);
      });
      $("message").value = "";
      await loadConversations();
    } catch (error) {
      reply.parentElement.remove();
      failed(error);
    } finally {
      $("send").disabled = false;
    }
  });

  show(Boolean(Salesbot.session()));
})();
