// The Nexus dashboard: signs in with an API key kept in this tab
// (sessionStorage), polls the node's API every two seconds and renders the
// cluster, the caller's sandboxes and the errors this page met. Every
// string from the API goes in as text, never as HTML.
"use strict";

const KEY = "nexus.api_key";
const POLL_MS = 2000;
const MAX_ERRORS = 20;
const errors = [];
let timer = null;

const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    node.append(child instanceof Node ? child : String(child ?? ""));
  }
  return node;
}

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Calls the API; resolves to the JSON body or throws {code, message}. */
async function api(method, path, body) {
  const init = {
    method,
    headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` },
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw { code: "NODE_UNREACHABLE", message: `${method} ${path}: ${e}` };
  }
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = json.error || {};
    throw {
      code: error.code || `HTTP_${response.status}`,
      message: error.message || `${method} ${path} answered ${response.status}`,
      status: response.status,
    };
  }
  return json;
}

function remember(error) {
  errors.unshift({ at: Date.now(), code: error.code, message: error.message });
  errors.length = Math.min(errors.length, MAX_ERRORS);
  const list = $("errors");
  list.replaceChildren(
    ...errors.map((e) =>
      el("li", {}, new Date(e.at).toISOString(), " ", el("code", {}, e.code), " ", e.message)
    )
  );
}

function renderNodes(status, nodes) {
  const rows = nodes
    ? nodes.map((n) => ({
        id: n.id,
        role: status.leader === n.id ? "leader" : n.status,
        health: n.health || "",
        lag: n.lag ?? "",
        api: n.api_addr,
        labels: Object.entries(n.labels || {}).map(([k, v]) => `${k}=${v}`).join(","),
        sandboxes: n.sandboxes ?? "",
      }))
    : status.members.map((m) => ({
        id: m.id,
        role: status.leader === m.id ? "leader" : m.kind,
        health: m.health,
        lag: m.lag ?? "",
        api: m.api_addr,
        labels: "",
        sandboxes: "",
      }));
  $("nodes").tBodies[0].replaceChildren(
    ...rows.map((r) =>
      el(
        "tr",
        { id: `node-${r.id}` },
        el("td", {}, r.id),
        el("td", {}, r.role),
        el("td", { className: `health-${r.health}` }, r.health),
        el("td", {}, r.lag),
        el("td", {}, r.api),
        el("td", {}, r.labels),
        el("td", {}, r.sandboxes)
      )
    )
  );
  $("cluster-summary").textContent =
    `term ${status.term} · leader ${status.leader ?? "none"} · answered by node ${status.node_id}`;
  $("cluster-note").textContent = (status.warnings || []).join(" ");
}

async function act(id, verb) {
  try {
    if (verb === "move") {
      const to = window.prompt(`Move ${id} to node:`);
      if (!to) return;
      await api("POST", `/v1/sandboxes/${encodeURIComponent(id)}/move`, { to: Number(to) });
    } else {
      await api("POST", `/v1/sandboxes/${encodeURIComponent(id)}/${verb}`, {});
    }
  } catch (e) {
    remember(e);
  }
  refresh();
}

function renderSandboxes(sandboxes) {
  $("sandbox-count").textContent = `${sandboxes.length}`;
  $("sandboxes").tBodies[0].replaceChildren(
    ...sandboxes.map((s) => {
      const actions = el("td", {});
      for (const verb of ["suspend", "resume", "freeze", "move"]) {
        const button = el("button", { type: "button" }, verb);
        button.dataset.verb = verb;
        button.addEventListener("click", () => act(s.id, verb));
        actions.append(button);
      }
      return el(
        "tr",
        { id: `sb-${s.id}` },
        el("td", { className: "id" }, s.id),
        el("td", {}, s.name),
        el("td", { className: `state state-${s.state}` }, s.state),
        el("td", {}, s.home_node),
        el("td", {}, s.profile),
        el("td", { title: new Date(s.updated_at_ms).toISOString() }, ago(s.updated_at_ms)),
        actions
      );
    })
  );
}

async function refresh() {
  try {
    const [list, status] = await Promise.all([
      api("GET", "/v1/sandboxes"),
      api("GET", "/v1/cluster/status"),
    ]);
    let nodes = null;
    try {
      nodes = (await api("GET", "/v1/cluster/nodes")).nodes;
    } catch (e) {
      if (e.status !== 403) throw e; // a tenant's key: members from the status only
    }
    renderSandboxes(list.sandboxes);
    renderNodes(status, nodes);
    $("updated").textContent = `updated ${new Date().toISOString()}`;
  } catch (e) {
    remember(e);
    if (e.status === 401) signOut(`${e.code}: ${e.message}`);
  }
}

function signedIn() {
  $("sign-in").hidden = true;
  $("board").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = "signed in";
  refresh();
  timer = setInterval(refresh, POLL_MS);
}

function signOut(why) {
  sessionStorage.removeItem(KEY);
  clearInterval(timer);
  $("board").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("who").textContent = "";
  $("sign-in-error").textContent = why || "";
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("key").value.trim());
  $("key").value = "";
  try {
    await api("GET", "/v1/sandboxes");
    $("sign-in-error").textContent = "";
    signedIn();
  } catch (e) {
    signOut(`${e.code}: ${e.message}`);
  }
});
$("sign-out").addEventListener("click", () => signOut());

if (sessionStorage.getItem(KEY)) signedIn();
