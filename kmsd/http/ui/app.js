// kmsd console: a small client of the server's own HTTP API.
// KMIP operations go to /kmip/2_1 (Cosmian JSON TTLV, bare operations), grants to /access/*.
// The session lives in an HttpOnly cookie; the CSRF token (from the sign-in answer) goes in
// X-CSRF-Token on every state-changing request.  Nothing is fetched from anywhere else.
"use strict";

const state = { user: null, csrf: null, page: 0, pageSize: 20, current: null };
const $ = (id) => document.getElementById(id);

// -- JSON TTLV ------------------------------------------------------------------------------
const T = (tag, type, value) => ({ tag, type, value });
const S = (tag, ...value) => ({ tag, type: "Structure", value });
const text = (tag, v) => T(tag, "TextString", v);
const en = (tag, v) => T(tag, "Enumeration", v);
const int = (tag, v) => T(tag, "Integer", v);
const bytes = (tag, hex) => T(tag, "ByteString", hex);
const uid = (id) => text("UniqueIdentifier", id);
const nameAttr = (n) => S("Name", text("NameValue", n), en("NameType", "UninterpretedTextString"));
const field = (obj, tag) => (obj.value || []).find((v) => v.tag === tag);
const fields = (obj, tag) => (obj.value || []).filter((v) => v.tag === tag);

// -- HTTP -----------------------------------------------------------------------------------
async function call(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin" });
  const type = r.headers.get("content-type") || "";
  const data = type.startsWith("application/json") ? await r.json() : await r.text();
  if (!r.ok) {
    const message = typeof data === "string" ? data : (data.error && data.error.message) || r.statusText;
    const error = new Error(message.trim());
    error.status = r.status;
    throw error;
  }
  return data;
}
const kmip = (op, ...payload) => call("POST", "/kmip/2_1", S(op, ...payload));

function say(message, error) {
  const s = $("status");
  s.textContent = message || "";
  s.className = error ? "error" : "";
}
async function guard(work) {
  try { await work(); } catch (e) { say(e.message, true); }
}

// -- views ----------------------------------------------------------------------------------
function show(view) {
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "view-" + view;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === view);
}
async function route() {
  if (!state.user) { show("login"); return; }
  const [view, arg] = (location.hash.slice(1) || "objects").split("/");
  say("");
  show(view === "object" ? "object" : view);
  await guard(async () => {
    if (view === "objects") await loadObjects();
    else if (view === "object") await loadObject(decodeURIComponent(arg));
    else if (view === "access") await loadObtained();
    else if (view === "server") await loadServer();
  });
}

function cell(row, value) {
  const td = document.createElement("td");
  if (value instanceof Node) td.append(value); else td.textContent = value === undefined ? "" : String(value);
  row.append(td);
  return td;
}
function link(label, hash) {
  const a = document.createElement("a");
  a.href = "#" + hash;
  a.textContent = label;
  return a;
}

// -- objects --------------------------------------------------------------------------------
async function loadObjects() {
  $("page").textContent = "";  // empty while loading (tests and screen readers wait on it)
  $("objects").querySelector("tbody").replaceChildren();
  const attrs = [];
  const name = $("search-name").value.trim();
  if (name) attrs.push(nameAttr(name));
  if ($("search-type").value) attrs.push(en("ObjectType", $("search-type").value));
  if ($("search-state").value) attrs.push(en("State", $("search-state").value));
  const payload = [int("MaximumItems", state.pageSize), int("OffsetItems", state.page * state.pageSize)];
  if (attrs.length) payload.push(S("Attributes", ...attrs));
  const found = await kmip("Locate", ...payload);
  const ids = fields(found, "UniqueIdentifier").map((f) => f.value);
  const body = $("objects").querySelector("tbody");
  body.replaceChildren();
  for (const id of ids) {
    const row = document.createElement("tr");
    row.dataset.id = id;
    cell(row, link(id, "object/" + encodeURIComponent(id)));
    try {
      const a = attributesOf(await kmip("GetAttributes", uid(id)));
      cell(row, a.ObjectType); cell(row, a.Name); cell(row, a.State);
    } catch (e) { cell(row, "?"); cell(row, ""); cell(row, e.message); }
    cell(row, link("open", "object/" + encodeURIComponent(id)));
    body.append(row);
  }
  $("page").textContent = `page ${state.page + 1}` + (ids.length ? "" : " (no objects)");
  $("prev").disabled = state.page === 0;
  $("next").disabled = ids.length < state.pageSize;
}

function attributesOf(response) {
  const out = {};
  const attrs = field(response, "Attributes");
  for (const a of (attrs ? attrs.value : [])) {
    let v = a.value;
    if (a.tag === "Name") v = (field(a, "NameValue") || {}).value;
    else if (a.tag === "Link") v = `${(field(a, "LinkType") || {}).value} → ${(field(a, "LinkedObjectIdentifier") || {}).value}`;
    else if (Array.isArray(v)) v = v.map((c) => `${c.tag}=${Array.isArray(c.value) ? "…" : c.value}`).join(", ");
    out[a.tag] = out[a.tag] === undefined ? v : out[a.tag] + "; " + v;
  }
  return out;
}

async function loadObject(id) {
  state.current = id;
  $("object-id").textContent = id;
  $("material").hidden = true;
  $("certificate").hidden = true;
  $("reveal").hidden = true;
  const body = $("attributes").querySelector("tbody");
  body.replaceChildren();
  $("grants").querySelector("tbody").replaceChildren();
  let response;
  try { response = await kmip("GetAttributes", uid(id)); } catch (e) {
    // A certificate needs only the Get right: a caller who may Get it but not read its attributes still sees it.
    if (!(await showCertificate(id, "Certificate", [], true))) throw e;
    say(`Attributes not shown: ${e.message}`, true);
    return;
  }
  const attrs = attributesOf(response);
  for (const [k, v] of Object.entries(attrs)) {
    const row = document.createElement("tr");
    cell(row, k); cell(row, v);
    body.append(row);
  }
  $("reveal").hidden = !["SymmetricKey", "PrivateKey", "SecretData"].includes(attrs.ObjectType);
  await Promise.all([loadGrants(id), showCertificate(id, attrs.ObjectType, linksOf(response))]);
}

// -- certificate details (parsed by the server: GET /ui/api/objects/{id}/certificate) -------
function linksOf(response) {
  const attrs = field(response, "Attributes");
  return (attrs ? attrs.value : []).filter((a) => a.tag === "Link").map((a) => ({
    type: (field(a, "LinkType") || {}).value, id: (field(a, "LinkedObjectIdentifier") || {}).value }));
}
const linked = (links, type) => (links.find((l) => l.type === type) || {}).id;

// The certificate an object stands for: itself, a key's Certificate Link, or (for a private key) the
// Certificate Link of its public key.  A Certificate's own Certificate Link is its issuer, not itself.
async function certificateOf(id, type, links) {
  if (type === "Certificate") return id;
  if (!["PublicKey", "PrivateKey"].includes(type)) return null;
  const direct = linked(links, "CertificateLink");
  if (direct || type !== "PrivateKey" || !linked(links, "PublicKeyLink")) return direct || null;
  try { return linked(linksOf(await kmip("GetAttributes", uid(linked(links, "PublicKeyLink")))), "CertificateLink") || null; }
  catch (e) { return null; }  // no right on the public key: no certificate to show
}

const VALIDITY = { valid: "valid", expired: "EXPIRED", not_yet_valid: "NOT YET VALID" };

// Fills the certificate panel; true when details are shown.  `quiet`: on failure show nothing at all.
async function showCertificate(id, type, links, quiet) {
  const certId = await certificateOf(id, type, links);
  if (!certId || state.current !== id) return false;
  const box = $("certificate");
  const body = $("cert-details").querySelector("tbody");
  body.replaceChildren();
  const heading = $("cert-heading");
  heading.replaceChildren(certId === id ? "Certificate" : "Linked certificate ");
  if (certId !== id) heading.append(link(certId, "object/" + encodeURIComponent(certId)));
  const base = "/ui/api/objects/" + encodeURIComponent(certId) + "/certificate";
  $("cert-pem").href = base + ".pem";
  $("cert-der").href = base + ".der";
  let c;
  try { c = await call("GET", base); } catch (e) {
    if (quiet || state.current !== id) return false;
    $("cert-flag").hidden = false;
    // Get answers "not found" to a caller without the Get right, even one who may read the attributes.
    const why = [403, 404].includes(e.status) ? "it does not exist, or you may not Get it" : e.message;
    $("cert-flag").textContent = `Certificate not shown: ${why}.`;
    box.hidden = false;
    return false;
  }
  if (state.current !== id) return false;  // the user moved on while this loaded
  const row = (key, label, value, bad) => {
    const tr = document.createElement("tr");
    tr.dataset.field = key;
    if (bad) tr.className = "bad";
    const th = document.createElement("th");
    th.textContent = label;
    tr.append(th);
    cell(tr, value);
    body.append(tr);
  };
  const critical = (ext) => (ext.critical ? " (critical)" : "");
  const pk = c.public_key;
  row("subject", "Subject", c.subject);
  row("issuer", "Issuer", c.issuer + (c.self_issued ? " (self-issued)" : ""));
  row("serial", "Serial number", `${c.serial_hex} (${c.serial_number})`);
  row("not_before", "Not before", c.not_before, c.validity === "not_yet_valid");
  row("not_after", "Not after", c.not_after, c.validity === "expired");
  row("validity", "Validity", VALIDITY[c.validity] || c.validity, c.validity !== "valid");
  row("public_key", "Public key", `${pk.algorithm}${pk.size ? " " + pk.size + " bits" : ""}${pk.curve ? " (" + pk.curve + ")" : ""}`);
  row("signature_algorithm", "Signature algorithm", c.signature_algorithm);
  row("sha256", "SHA-256 fingerprint", c.fingerprints.sha256);
  row("sha1", "SHA-1 fingerprint", c.fingerprints.sha1);
  row("key_usage", "Key usage", c.key_usage ? c.key_usage.usages.join(", ") + critical(c.key_usage) : "(none)");
  row("extended_key_usage", "Extended key usage",
    c.extended_key_usage ? c.extended_key_usage.usages.join(", ") + critical(c.extended_key_usage) : "(none)");
  row("subject_alternative_names", "Subject alternative names",
    c.subject_alternative_names.map((n) => `${n.type}: ${n.value}`).join(", ") || "(none)");
  const bc = c.basic_constraints;
  row("basic_constraints", "Basic constraints", !bc ? "(none: not a CA)"
    : (bc.ca ? "CA" + (bc.path_length === null ? "" : `, path length ${bc.path_length}`) : "not a CA") + critical(bc));
  if (c.extensions_error) row("extensions_error", "Extensions", `unreadable: ${c.extensions_error}`, true);
  const chain = document.createElement("span");
  for (const l of c.links) {
    if (chain.childNodes.length) chain.append(document.createElement("br"));
    const a = link(l.id, "object/" + encodeURIComponent(l.id));
    a.dataset.linkType = l.type;
    chain.append(`${l.type}: `, a);
  }
  row("links", "Links", c.links.length ? chain : "(none)");
  const flag = $("cert-flag");
  flag.hidden = c.validity === "valid";
  flag.textContent = c.validity === "expired" ? `This certificate expired on ${c.not_after}.`
    : c.validity === "not_yet_valid" ? `This certificate is not valid before ${c.not_before}.` : "";
  box.hidden = false;
  return true;
}

async function loadGrants(id) {
  const body = $("grants").querySelector("tbody");
  body.replaceChildren();
  let grants;
  try { grants = await call("GET", "/access/list/" + encodeURIComponent(id)); } catch (e) {
    const row = document.createElement("tr");
    cell(row, e.status === 403 ? "only the owner sees the grants" : e.message);
    body.append(row);
    return;
  }
  for (const g of grants) {
    const row = document.createElement("tr");
    cell(row, g.user_id); cell(row, g.operations.join(", "));
    const b = document.createElement("button");
    b.type = "button"; b.className = "link"; b.textContent = "revoke";
    b.addEventListener("click", () => guard(async () => {
      await call("POST", "/access/revoke", { unique_identifier: id, user_id: g.user_id, operation_types: g.operations });
      say(`Access for ${g.user_id} removed`);
      await loadGrants(id);
    }));
    cell(row, b);
    body.append(row);
  }
}

async function lifecycle(op) {
  const id = state.current;
  if (op === "Activate") await kmip("Activate", uid(id));
  if (op === "Revoke") {
    if (!confirm(`Revoke ${id}? It can no longer be used to protect data.`)) return;
    await kmip("Revoke", uid(id), S("RevocationReason", en("RevocationReasonCode", "CessationOfOperation")));
  }
  if (op === "Destroy") {
    if (!confirm(`Destroy ${id}? Its key material is erased for good.`)) return;
    await kmip("Destroy", uid(id));
  }
  say(`${op}: done`);
  await loadObject(id);
}

async function reveal() {
  if (!confirm("Show the key material on screen?")) return;
  const got = await kmip("Get", uid(state.current));
  const material = JSON.stringify(got, null, 1).match(/"KeyMaterial"[\s\S]*?"value":\s*"([0-9a-f]+)"/);
  const box = $("material");
  box.textContent = material ? material[1] : JSON.stringify(got, null, 2);
  box.hidden = false;
}

// -- create and import ----------------------------------------------------------------------
async function create(event) {
  event.preventDefault();
  const kind = $("create-kind").value;
  const name = $("create-name").value.trim();
  const length = parseInt($("create-length").value, 10);
  let id;
  if (kind === "symmetric") {
    const r = await kmip("Create", en("ObjectType", "SymmetricKey"), S("Attributes", en("CryptographicAlgorithm", "AES"),
      int("CryptographicLength", [128, 192, 256].includes(length) ? length : 256),
      int("CryptographicUsageMask", 12), nameAttr(name)));
    id = field(r, "UniqueIdentifier").value;
  } else if (kind === "rsa" || kind === "ec") {
    const common = kind === "rsa"
      ? [en("CryptographicAlgorithm", "RSA"), int("CryptographicLength", length >= 2048 ? length : 2048)]
      : [en("CryptographicAlgorithm", "ECDSA"), S("CryptographicDomainParameters", en("RecommendedCurve", "P_256"))];
    const r = await kmip("CreateKeyPair", S("CommonAttributes", ...common),
      S("PrivateKeyAttributes", nameAttr(name), int("CryptographicUsageMask", 1)),
      S("PublicKeyAttributes", nameAttr(name + ".pub"), int("CryptographicUsageMask", 2)));
    id = field(r, "PrivateKeyUniqueIdentifier").value;
  } else {
    const secret = new TextEncoder().encode($("create-secret").value);
    const r = await kmip("Register", en("ObjectType", "SecretData"), S("Attributes", nameAttr(name)),
      S("SecretData", en("SecretDataType", "Password"), S("KeyBlock", en("KeyFormatType", "Opaque"),
        S("KeyValue", bytes("KeyMaterial", hex(secret))))));
    id = field(r, "UniqueIdentifier").value;
  }
  $("create-secret").value = "";
  say(`Created ${id}`);
  location.hash = "object/" + encodeURIComponent(id);
}

function hex(data) { return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(""); }
function unhex(s) { return new Uint8Array((s.match(/../g) || []).map((h) => parseInt(h, 16))); }

function pemBlocks(textValue) {
  const m = textValue.match(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/);
  if (!m) return null;
  const raw = atob(m[2].replace(/\s+/g, ""));
  return { label: m[1], der: Uint8Array.from(raw, (c) => c.charCodeAt(0)) };
}

async function importFile(event) {
  event.preventDefault();
  const file = $("import-file").files[0];
  const name = $("import-name").value.trim();
  const data = new Uint8Array(await file.arrayBuffer());
  const pem = pemBlocks(new TextDecoder("latin1").decode(data));
  const label = pem ? pem.label : "CERTIFICATE";
  const der = hex(pem ? pem.der : data);
  let r;
  if (label === "CERTIFICATE") {
    r = await kmip("Register", en("ObjectType", "Certificate"), S("Attributes", nameAttr(name)),
      S("Certificate", en("CertificateType", "X_509"), bytes("CertificateValue", der)));
  } else if (label === "PUBLIC KEY" || label === "PRIVATE KEY") {
    const isPrivate = label === "PRIVATE KEY";
    const algorithm = /2a8648ce3d0201/.test(der) ? "ECDSA" : "RSA";
    r = await kmip("Register", en("ObjectType", isPrivate ? "PrivateKey" : "PublicKey"),
      S("Attributes", nameAttr(name), int("CryptographicUsageMask", isPrivate ? 1 : 2)),
      S(isPrivate ? "PrivateKey" : "PublicKey", S("KeyBlock", en("KeyFormatType", isPrivate ? "PKCS_8" : "X_509"),
        S("KeyValue", bytes("KeyMaterial", der)), en("CryptographicAlgorithm", algorithm))));
  } else {
    throw new Error(`unsupported PEM block "${label}" (use CERTIFICATE, PUBLIC KEY or PRIVATE KEY)`);
  }
  const id = field(r, "UniqueIdentifier").value;
  say(`Imported ${id}`);
  location.hash = "object/" + encodeURIComponent(id);
}

// -- shared, server, playground -------------------------------------------------------------
async function loadObtained() {
  const body = $("obtained").querySelector("tbody");
  body.replaceChildren();
  for (const o of await call("GET", "/access/obtained")) {
    const row = document.createElement("tr");
    cell(row, link(o.object_id, "object/" + encodeURIComponent(o.object_id)));
    cell(row, o.owner_id); cell(row, o.state); cell(row, o.operations.join(", "));
    body.append(row);
  }
}

async function loadServer() {
  const [health, version, info] = await Promise.all([
    call("GET", "/health").catch((e) => ({ status: "unavailable", store: e.message })),
    call("GET", "/version"), call("GET", "/server-info")]);
  const body = $("server-info").querySelector("tbody");
  body.replaceChildren();
  const rows = { health: health.status, store: health.store, version: version.version, ...info };
  for (const [k, v] of Object.entries(rows)) {
    const row = document.createElement("tr");
    cell(row, k); cell(row, Array.isArray(v) ? v.join(", ") : v);
    body.append(row);
  }
}

async function play(op) {
  const key = uid($("play-key").value.trim());
  const gcm = [en("BlockCipherMode", "GCM"), int("TagLength", 16)];
  if (op === "Encrypt") {
    const params = S("CryptographicParameters", ...gcm, T("RandomIV", "Boolean", true));
    const r = await kmip("Encrypt", key, params, bytes("Data", hex(new TextEncoder().encode($("play-text").value))));
    const tag = field(r, "AuthenticatedEncryptionTag");
    $("play-cipher").value = field(r, "Data").value + (tag ? tag.value : "");
    $("play-iv").value = (field(r, "IVCounterNonce") || {}).value || "";
  } else {
    const all = $("play-cipher").value.trim();
    const r = await kmip("Decrypt", key, S("CryptographicParameters", ...gcm), bytes("Data", all.slice(0, -32)),
      bytes("IVCounterNonce", $("play-iv").value.trim()), bytes("AuthenticatedEncryptionTag", all.slice(-32)));
    $("play-text").value = new TextDecoder().decode(unhex(field(r, "Data").value));
  }
  say(`${op}: done`);
}

async function detectPlayground() {
  try {
    const r = await kmip("Query", en("QueryFunction", "QueryOperations"));
    const ops = fields(r, "Operation").map((o) => o.value);
    $("nav-playground").hidden = !(ops.includes("Encrypt") && ops.includes("Decrypt"));
  } catch (e) { $("nav-playground").hidden = true; }
}

// -- session --------------------------------------------------------------------------------
function signedIn(session) {
  state.user = session.user;
  state.csrf = session.csrf;
  $("user").textContent = session.user;
  $("nav").hidden = false;
  $("whoami").hidden = false;
  detectPlayground();
}
async function login(token) {
  const session = await call("POST", "/ui/api/login", token ? { token } : {});
  $("token").value = "";
  signedIn(session);
  say(`Signed in as ${session.user}`);
  location.hash = "objects";
  await route();
}
async function logout() {
  await call("POST", "/ui/api/logout");
  state.user = null; state.csrf = null;
  $("nav").hidden = true; $("whoami").hidden = true;
  location.hash = "";
  await route();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-cert").addEventListener("click", () => guard(() => login(null)));
  $("login-token").addEventListener("submit", (e) => { e.preventDefault(); guard(() => login($("token").value.trim())); });
  $("logout").addEventListener("click", () => guard(logout));
  $("search").addEventListener("submit", (e) => { e.preventDefault(); state.page = 0; guard(loadObjects); });
  $("prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); guard(loadObjects); });
  $("next").addEventListener("click", () => { state.page += 1; guard(loadObjects); });
  $("activate").addEventListener("click", () => guard(() => lifecycle("Activate")));
  $("revoke").addEventListener("click", () => guard(() => lifecycle("Revoke")));
  $("destroy").addEventListener("click", () => guard(() => lifecycle("Destroy")));
  $("reveal").addEventListener("click", () => guard(reveal));
  $("grant").addEventListener("submit", (e) => {
    e.preventDefault();
    guard(async () => {
      const ops = $("grant-ops").value.split(",").map((s) => s.trim()).filter(Boolean);
      const user = $("grant-user").value.trim();
      await call("POST", "/access/grant", { unique_identifier: state.current, user_id: user, operation_types: ops });
      say(`Granted ${ops.join(", ")} to ${user}`);
      await loadGrants(state.current);
    });
  });
  $("create-form").addEventListener("submit", (e) => guard(() => create(e)));
  $("import-form").addEventListener("submit", (e) => guard(() => importFile(e)));
  $("play").addEventListener("submit", (e) => { e.preventDefault(); guard(() => play("Encrypt")); });
  $("play-decrypt").addEventListener("click", () => guard(() => play("Decrypt")));
  window.addEventListener("hashchange", route);
  try { signedIn(await call("GET", "/ui/api/session")); } catch (e) { /* not signed in */ }
  if (state.user && !state.csrf) {
    // Signed in by certificate or token without a session yet: make one (the UI needs its CSRF token).
    await guard(() => login(null));
    return;
  }
  await route();
});
