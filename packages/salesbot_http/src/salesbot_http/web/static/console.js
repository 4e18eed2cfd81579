// The admin console: one page per hash route (#/overview, #/leads, #/products, #/webhooks,
// #/conversation/<id>), each drawn from the admin JSON API. A page is a function in PAGES and a
// link in the nav. Every text from the API goes in as text (Salesbot.el), never as markup.
"use strict";

(() => {
  const { el, when } = Salesbot;
  const $ = (id) => document.getElementById(id);
  const STATUSES = ["exploring", "interested", "negotiating", "closed", "lost"];
  const LEADS_PAGE = 50;

  function statusBadge(status) {
    return el("span", { class: `badge status-${status}` }, status);
  }

  function countTable(caption, rows, testId) {
    return el("table", { "data-testid": testId },
      el("caption", {}, caption),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Conversations"))),
      el("tbody", {}, rows.length
        ? rows.map((r) => el("tr", {}, el("td", {}, r.name), el("td", { class: "number" }, r.count)))
        : el("tr", {}, el("td", { colspan: 2 }, "none yet"))));
  }

  function figure(label, value, testId) {
    return el("div", { class: "figure", "data-testid": testId }, el("span", { class: "value" }, value), el("span", { class: "label" }, label));
  }

  async function overview(params) {
    const days = params.get("days") || "30";
    const body = await Salesbot.json(`/admin/analytics?days=${encodeURIComponent(days)}`);
    const a = body.data;
    const range = el("select", { id: "days", name: "days", onchange: (e) => { location.hash = `#/overview?days=${e.target.value}`; } },
      ["7", "30", "90", "366"].map((d) => el("option", { value: d, selected: d === days }, `last ${d} days`)));
    const byStatus = el("div", { class: "figures", "data-testid": "by-status" },
      STATUSES.map((s) => figure(s, a.byStatus[s] ?? 0, `status-${s}`)));
    const conversion = a.conversion.map((d) => ({ label: d.day, value: d.rate }));
    return [
      el("h2", {}, "Overview"),
      el("p", {}, el("label", { for: "days" }, "Conversion range "), range),
      el("div", { class: "figures" },
        figure("conversations", a.conversations, "conversations"),
        figure("exchanges", a.tokens.exchanges, "exchanges"),
        figure("tokens per exchange", a.tokens.tokensPerExchange, "tokens-per-exchange"),
        figure("tokens saved (estimated)", a.context.estimatedSavedTokens, "saved-tokens"),
        figure("context saved", `${Math.round(a.context.savedRatio * 100)}%`, "saved-ratio")),
      el("h3", {}, "Conversations by sale status"), byStatus,
      el("h3", {}, "Conversion per day"),
      conversion.length ? SalesbotChart.line(conversion, { title: `Conversion per day, last ${days} days` }) : el("p", {}, "No conversations in this range."),
      el("div", { class: "columns" },
        countTable("Top interests", a.topInterests, "top-interests"),
        countTable("Most offered", a.mostOffered, "most-offered"),
        countTable("Most rejected", a.mostRejected, "most-rejected")),
    ];
  }

  // The hash of a page with its filters, the empty ones left out.
  function hashOf(page, params) {
    const p = new URLSearchParams(params);
    for (const [k, v] of [...p]) if (!v) p.delete(k);
    const query = p.toString();
    return query ? `#/${page}?${query}` : `#/${page}`;
  }

  // Links to the first and the next page of a paged list.
  function paging(page, params, cursor, next) {
    return el("p", { class: "paging" },
      cursor ? el("a", { href: hashOf(page, params), id: "first-page" }, "First page") : null,
      next ? el("a", { href: hashOf(page, { ...params, cursor: next }), id: "next-page" }, "Next page") : null);
  }

  // A message left by an action for the page drawn after it (e.g. "Product updated").
  let notice = "";
  function takeNotice() {
    const text = notice;
    notice = "";
    return el("p", { class: "notice", role: "status", id: "notice" }, text);
  }

  async function downloadCsv(status, search) {
    const query = new URLSearchParams();
    if (status) query.set("saleStatus", status);
    if (search) query.set("q", search);
    const response = await Salesbot.call(`/admin/leads.csv${String(query) ? `?${query}` : ""}`);
    if (!response.ok) throw new Salesbot.ApiError(response.status, "the CSV export failed");
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: "leads.csv", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  // The search runs on the server, over every lead: the customer's name or email or the title.
  async function leads(params) {
    const status = params.get("status") || "";
    const cursor = params.get("cursor") || "";
    const search = params.get("q") || "";
    const query = new URLSearchParams({ limit: String(LEADS_PAGE) });
    if (status) query.set("saleStatus", status);
    if (search) query.set("q", search);
    if (cursor) query.set("cursor", cursor);
    const { items: rows, next } = await Salesbot.page(`/admin/leads?${query}`);
    const interestsOf = (lead) => (lead.metadata ? lead.metadata.interests : []);
    const filter = el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); location.hash = hashOf("leads", { status: $("lead-status").value, q: $("lead-search").value.trim() }); } },
      el("label", { for: "lead-status" }, "Sale status"),
      el("select", { id: "lead-status" }, el("option", { value: "" }, "any"), STATUSES.map((s) => el("option", { value: s, selected: s === status }, s))),
      el("label", { for: "lead-search" }, "Search name, email, title"),
      el("input", { id: "lead-search", type: "search", value: search }),
      el("button", { type: "submit" }, "Filter"),
      el("button", { type: "button", id: "download-csv", onclick: () => downloadCsv(status, search).catch(shown) }, "Download CSV"));
    const table = el("table", { "data-testid": "leads" },
      el("caption", {}, status ? `Leads: ${status}` : "Leads", search ? ` matching “${search}”` : ""),
      el("thead", {}, el("tr", {}, ["Customer", "Conversation", "Status", "Interests", "Last message", "Updated"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.length ? rows.map((lead) => el("tr", { "data-conversation": lead.conversationId },
        el("td", {}, lead.customer.name, el("br"), el("small", {}, lead.customer.email)),
        el("td", {}, el("a", { href: `#/conversation/${lead.conversationId}` }, lead.title)),
        el("td", {}, statusBadge(lead.saleStatus)),
        el("td", {}, interestsOf(lead).join(", ")),
        el("td", {}, lead.lastMessage ? lead.lastMessage.content : ""),
        el("td", {}, when(lead.updatedAt)))) : el("tr", {}, el("td", { colspan: 6 }, "No leads match."))));
    return [el("h2", {}, "Leads"), filter, el("div", { class: "scroll" }, table), paging("leads", { status, q: search }, cursor, next)];
  }

  // ------------------------------------------------------------------ products

  const PRODUCTS_PAGE = 50;
  const PRODUCT_FIELDS = [
    ["name", "Name", "text"], ["brand", "Brand", "text"], ["category", "Category", "text"],
    ["price", "Price", "decimal"], ["currency", "Currency (ISO 4217)", "text"], ["stock", "Stock", "numeric"],
    ["url", "Link (optional)", "url"], ["description", "Description", "textarea"],
  ];
  const PRODUCT_PATH = (sku) => `/admin/products/${encodeURIComponent(sku)}`;

  // The file's media type, from its name first (browsers know .jsonl by no type at all).
  function catalogueType(file) {
    const name = file.name.toLowerCase();
    if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) return "application/x-ndjson";
    if (name.endsWith(".csv")) return "text/csv";
    return file.type || "text/csv";
  }

  function productEditor(product, done) {
    const error = el("p", { class: "error", role: "alert", id: "product-error" });
    const inputs = {};
    const fields = PRODUCT_FIELDS.map(([name, label, kind]) => {
      const id = `product-${name}`;
      const value = product[name] === null || product[name] === undefined ? "" : String(product[name]);
      const input = kind === "textarea"
        ? el("textarea", { id, name, rows: 3 }, value)
        : el("input", { id, name, type: kind === "url" ? "url" : "text", value, inputmode: kind === "decimal" || kind === "numeric" ? kind : null });
      inputs[name] = input;
      return el("div", { class: kind === "textarea" ? "field wide" : "field" }, el("label", { for: id }, label), input);
    });
    const save = async (event) => {
      event.preventDefault();
      error.textContent = "";
      const stock = inputs.stock.value.trim();
      const body = {
        name: inputs.name.value, brand: inputs.brand.value, category: inputs.category.value,
        price: inputs.price.value.trim(), currency: inputs.currency.value.trim(),
        // A number when it is one; otherwise as typed, so the server says what is wrong.
        stock: /^-?\d+$/.test(stock) ? Number(stock) : stock,
        description: inputs.description.value, url: inputs.url.value.trim() || null,
        attributes: product.attributes || {},
      };
      try {
        const answer = await Salesbot.json(PRODUCT_PATH(product.sku), { method: "PUT", json: body });
        notice = `${answer.message}: ${product.sku}`;
        done();
      } catch (e) {
        if (e.status === 401 || e.status === 403) { shown(e); return; }
        error.textContent = e.message;
      }
    };
    return el("form", { class: "card editor", id: "product-editor", "aria-labelledby": "editor-title", onsubmit: save },
      el("h3", { id: "editor-title" }, `Edit ${product.sku}`),
      el("div", { class: "fields" }, fields),
      error,
      el("p", { class: "actions" },
        el("button", { type: "submit" }, "Save"), " ",
        el("button", { type: "button", class: "secondary", onclick: () => done() }, "Cancel")));
  }

  function importForm(reload) {
    const file = el("input", { id: "import-file", type: "file", accept: ".csv,.jsonl,.ndjson,text/csv,application/x-ndjson", required: true });
    const replace = el("input", { id: "import-replace", type: "checkbox" });
    const error = el("p", { class: "error", role: "alert", id: "import-error" });
    const result = el("p", { role: "status", id: "import-result" });
    const button = el("button", { type: "submit" }, "Import");
    const submit = async (event) => {
      event.preventDefault();
      error.textContent = "";
      result.textContent = "";
      const chosen = file.files[0];
      if (!chosen) { error.textContent = "Choose a CSV or JSON Lines file first."; return; }
      button.disabled = true;
      try {
        const path = `/admin/products/import${replace.checked ? "?replace=true" : ""}`;
        const answer = await Salesbot.json(path, { method: "POST", body: chosen, headers: { "Content-Type": catalogueType(chosen) } });
        const c = answer.data;
        notice = `${chosen.name}: ${c.created} created, ${c.updated} updated${c.removed ? `, ${c.removed} removed` : ""}.`;
        reload();
      } catch (e) {
        if (e.status === 401 || e.status === 403) { shown(e); return; }
        error.textContent = `${chosen.name}: ${e.message}`;
      } finally { button.disabled = false; }
    };
    return el("form", { class: "card", id: "import-form", "aria-labelledby": "import-title", onsubmit: submit },
      el("h3", { id: "import-title" }, "Import a catalogue file"),
      el("p", {}, "CSV with a header row (sku, name, brand, category, description, price, currency, stock, url) or JSON Lines; all or nothing."),
      el("label", { for: "import-file" }, "Catalogue file (CSV or JSON Lines)"), file,
      el("p", {}, replace, " ", el("label", { for: "import-replace", class: "inline" }, "Also remove the products not in the file")),
      button, error, result);
  }

  async function products(params) {
    const q = params.get("q") || "";
    const category = params.get("category") || "";
    const cursor = params.get("cursor") || "";
    const query = new URLSearchParams({ limit: String(PRODUCTS_PAGE) });
    if (q) query.set("q", q);
    if (category) query.set("category", category);
    if (cursor) query.set("cursor", cursor);
    const { items, next } = await Salesbot.page(`/admin/products?${query}`);
    const reload = () => route();
    const editorSlot = el("div", { id: "editor-slot" });
    const edit = (product) => {
      const form = productEditor(product, reload);
      editorSlot.replaceChildren(form);
      form.querySelector("input").focus();
    };
    const confirmDelete = (product, cell) => {
      const keep = [...cell.childNodes];
      const cancel = el("button", { type: "button", class: "secondary", onclick: () => { cell.replaceChildren(...keep); keep[0].focus(); } }, "Cancel");
      const yes = el("button", { type: "button", class: "danger", "data-action": "confirm-delete", onclick: async () => {
        try {
          await Salesbot.json(PRODUCT_PATH(product.sku), { method: "DELETE" });
          notice = `Product deleted: ${product.sku}`;
          reload();
        } catch (e) { shown(e); }
      } }, `Delete ${product.sku}`);
      cell.replaceChildren(el("span", { role: "alert" }, "Delete this product? "), yes, " ", cancel);
      cancel.focus();
    };
    const filter = el("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); location.hash = hashOf("products", { q: $("product-search").value.trim(), category: $("product-category-filter").value.trim() }); } },
      el("label", { for: "product-search" }, "Search words"),
      el("input", { id: "product-search", type: "search", value: q }),
      el("label", { for: "product-category-filter" }, "Category"),
      el("input", { id: "product-category-filter", type: "text", value: category }),
      el("button", { type: "submit" }, "Search"));
    const table = el("table", { "data-testid": "products" },
      el("caption", {}, "Products", q ? ` matching “${q}”` : "", category ? ` in ${category}` : ""),
      el("thead", {}, el("tr", {}, ["SKU", "Name", "Brand", "Category", "Price", "Stock", "Actions"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, items.length ? items.map((product) => {
        const actions = el("td", { class: "actions" },
          el("button", { type: "button", "data-action": "edit", "aria-label": `Edit ${product.sku}`, onclick: () => edit(product) }, "Edit"), " ",
          el("button", { type: "button", class: "danger", "data-action": "delete", "aria-label": `Delete ${product.sku}`, onclick: () => confirmDelete(product, actions) }, "Delete"));
        return el("tr", { "data-sku": product.sku },
          el("td", {}, el("code", {}, product.sku)),
          el("td", {}, product.name),
          el("td", {}, product.brand),
          el("td", {}, product.category),
          el("td", { class: "number" }, `${product.price} ${product.currency}`),
          el("td", { class: "number" }, product.stock),
          actions);
      }) : el("tr", {}, el("td", { colspan: 7 }, "No products match."))));
    return [el("h2", {}, "Products"), takeNotice(), filter, editorSlot,
      el("div", { class: "scroll" }, table), paging("products", { q, category }, cursor, next), importForm(reload)];
  }

  // ------------------------------------------------------------------ webhook deliveries

  const DELIVERY_STATUSES = ["pending", "delivered", "dead"];
  const DELIVERIES_PAGE = 50;

  async function webhooks(params) {
    const status = params.get("status") || "";
    const cursor = params.get("cursor") || "";
    const query = new URLSearchParams({ limit: String(DELIVERIES_PAGE) });
    if (status) query.set("status", status);
    if (cursor) query.set("cursor", cursor);
    const { items, next } = await Salesbot.page(`/admin/webhooks/deliveries?${query}`);
    const retry = async (delivery, button) => {
      button.disabled = true;
      try {
        const answer = await Salesbot.json(`/admin/webhooks/deliveries/${encodeURIComponent(delivery.id)}/retry`, { method: "POST" });
        notice = `${answer.message}: ${delivery.eventType} to ${delivery.url}`;
        route();
      } catch (e) { button.disabled = false; shown(e); }
    };
    const filter = el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); location.hash = hashOf("webhooks", { status: $("delivery-status").value }); } },
      el("label", { for: "delivery-status" }, "Status"),
      el("select", { id: "delivery-status" }, el("option", { value: "" }, "any"), DELIVERY_STATUSES.map((s) => el("option", { value: s, selected: s === status }, s))),
      el("button", { type: "submit" }, "Filter"));
    const lastError = (d) => d.lastError || (d.lastStatus ? `HTTP ${d.lastStatus}` : "");
    const table = el("table", { "data-testid": "deliveries" },
      el("caption", {}, status ? `Webhook deliveries: ${status}` : "Webhook deliveries"),
      el("thead", {}, el("tr", {}, ["Created", "Event", "URL", "Status", "Attempts", "Last error", "Next attempt / delivered", "Actions"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, items.length ? items.map((d) => {
        const actions = el("td", { class: "actions" });
        if (d.status === "dead") {
          const button = el("button", { type: "button", "data-action": "retry", "aria-label": `Retry ${d.eventType} to ${d.url}` }, "Retry");
          button.addEventListener("click", () => retry(d, button));
          actions.append(button);
        }
        return el("tr", { "data-delivery": d.id, "data-status": d.status },
          el("td", {}, when(d.createdAt)),
          el("td", {}, d.eventType),
          el("td", {}, el("code", {}, d.url)),
          el("td", {}, el("span", { class: `badge delivery-${d.status}` }, d.status)),
          el("td", { class: "number" }, d.attempts),
          el("td", {}, lastError(d)),
          el("td", {}, when(d.status === "delivered" ? d.deliveredAt : d.nextAttemptAt)),
          actions);
      }) : el("tr", {}, el("td", { colspan: 8 }, "No deliveries match."))));
    return [el("h2", {}, "Webhook deliveries"), takeNotice(), filter,
      el("p", {}, "A dead delivery ran out of retries; Retry queues it again with attempts from 0 (as ", el("code", {}, "salesbot webhooks retry ID"), " does)."),
      el("div", { class: "scroll" }, table), paging("webhooks", { status }, cursor, next)];
  }

  function metadataList(metadata) {
    if (!metadata) return el("p", {}, "No metadata yet: the conversation has not been distilled.");
    const row = (term, value) => [el("dt", {}, term), el("dd", {}, value || "—")];
    return el("dl", { class: "metadata" },
      row("Sale status", metadata.saleStatus),
      row("Interests", metadata.interests.join(", ")),
      row("Offered", metadata.offeredProducts.join(", ")),
      row("Rejected", metadata.rejectedProducts.join(", ")),
      row("Last intent", metadata.lastIntent));
  }

  async function conversation(params, id) {
    const body = await Salesbot.json(`/admin/conversations/${encodeURIComponent(id)}`);
    const c = body.data;
    return [
      el("p", {}, el("a", { href: "#/leads" }, "← Leads")),
      el("h2", {}, c.title),
      el("p", {}, `${c.customer.name} <${c.customer.email}>`, " ", statusBadge(c.saleStatus)),
      el("div", { class: "columns" },
        el("section", { "aria-labelledby": "transcript-title" },
          el("h3", { id: "transcript-title" }, c.totalMessages > c.messages.length ? `Transcript (the latest ${c.messages.length} of ${c.totalMessages} messages)` : `Transcript (${c.totalMessages} messages)`),
          el("ol", { class: "messages", "data-testid": "transcript" }, c.messages.map((m) =>
            el("li", { class: `message ${m.sender}` }, el("span", { class: "who" }, m.sender === "user" ? "Customer" : "Assistant", " · ", when(m.createdAt)), el("p", {}, m.content))))),
        el("section", { "aria-labelledby": "timeline-title" },
          el("h3", { id: "timeline-title" }, "Metadata, distillation by distillation"),
          el("ol", { class: "timeline", "data-testid": "timeline" }, c.distillations.length
            ? c.distillations.map((d, i) => el("li", {}, el("h4", {}, `Distillation ${c.totalDistillations - c.distillations.length + i + 1} · ${when(d.distilledAt)} · through message ${d.throughMessage}`), metadataList(d.metadata)))
            : el("li", {}, "Not distilled yet.")),
          el("h4", {}, "Now"), metadataList(c.metadata))),
    ];
  }

  const PAGES = { overview, leads, products, webhooks, conversation };

  function shown(error) {
    if (error.status === 401) { Salesbot.keep(null); route(); return; }
    if (error.status === 403) { $("forbidden").hidden = false; $("page").replaceChildren(); $("console-nav").hidden = true; return; }
    $("page").replaceChildren(el("p", { class: "error", role: "alert" }, error.message));
  }

  async function route() {
    const signedIn = Boolean(Salesbot.session());
    $("auth").hidden = signedIn;
    $("logout").hidden = !signedIn;
    $("forbidden").hidden = true;
    $("console-nav").hidden = !signedIn;
    if (!signedIn) { $("page").replaceChildren(); return; }
    const [path, query = ""] = (location.hash.replace(/^#\/?/, "") || "overview").split("?");
    const [name, ...rest] = path.split("/");
    const page = PAGES[name] || overview;
    for (const link of document.querySelectorAll("#console-nav a")) {
      if (link.dataset.page === name) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
    }
    try {
      const nodes = await page(new URLSearchParams(query), ...rest);
      $("page").replaceChildren(...nodes);
      $("page").dataset.page = name || "overview";
    } catch (error) { shown(error); }
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("auth-error").textContent = "";
    try { await Salesbot.login($("login-email").value, $("login-password").value); await route(); }
    catch (error) { $("auth-error").textContent = error.message; }
  });
  $("logout").addEventListener("click", async () => { await Salesbot.logout(); route(); });
  window.addEventListener("hashchange", route);
  route();
})();
