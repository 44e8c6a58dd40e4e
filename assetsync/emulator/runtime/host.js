// assetsync's host Worker: the one static service in workerd. Every deployed script runs as a
// Worker this host loads on demand (workerd's Worker Loader), keyed by its version id, so a deploy
// is live on the next request and scripts not redeployed keep their warm isolates.
//
// The emulator (a Python process) is reached through the EMU service: it hands out each version's
// code and bindings, and answers ASSETS and KV. The preview sends a request
// here with two headers: the version to run and the URL the Worker should see.

import { WorkerEntrypoint, RpcTarget } from "cloudflare:workers";

const H_VERSION = "x-assetsync-version";
const H_URL = "x-assetsync-url";
const H_GEN = "x-assetsync-generation";
const H_EVENT = "x-assetsync-event";
const H_TOP = "x-assetsync-top";
const H_LIMITS = "x-assetsync-limits";
const TO_WORKER = "x-assetsync-to-worker";
const EMU = "http://emulator.internal";
const SHIM = "__assetsync_main.js";

let generation = ""; // the emulator's deploy counter, as the newest top-level request said
const liveCache = new Map(); // "account/ns/script" -> [generation, version id or null]

async function emuJson(env, path, init) {
  const res = await env.EMU.fetch(EMU + path, init);
  if (!res.ok) throw new Error(`the emulator answered ${res.status} for ${path}: ${await res.text()}`);
  return res.json();
}

// The live version of a script, cached until the next deploy anywhere.
async function liveVersion(env, account, namespace, script) {
  const key = `${account}/${namespace}/${script}`;
  const hit = liveCache.get(key);
  if (hit && hit[0] === generation) return hit[1];
  const q = new URLSearchParams({ account, namespace, script });
  const { version } = await emuJson(env, `/__runtime/live?${q}`);
  if (liveCache.size > 10000) liveCache.clear();
  liveCache.set(key, [generation, version]);
  return version;
}

function decodeModules(mods) {
  const out = {};
  for (const [name, m] of Object.entries(mods)) {
    if ("data" in m) out[name] = { data: base64(m.data) };
    else if ("wasm" in m) out[name] = { wasm: base64(m.wasm) };
    else out[name] = m; // js, cjs, text, json as they are
  }
  return out;
}

function base64(text) {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}

// The env a version's Worker gets: plain values as they are; every other binding a stub of one of
// this host's entrypoints, so the Worker calls it as it would on the platform.
function buildEnv(spec, ctx) {
  const env = { ...spec.values };
  const who = { account: spec.account, namespace: spec.namespace, script: spec.script };
  for (const b of spec.bindings) {
    if (b.type === "assets") env[b.name] = ctx.exports.Assets({ props: { version: spec.version } });
    else if (b.type === "kv") env[b.name] = ctx.exports.Kv({ props: { id: b.id } });
    else if (b.type === "service")
      env[b.name] = ctx.exports.Service({
        props: { account: spec.account, script: b.service, entrypoint: b.entrypoint ?? null },
      });
    else if (b.type === "dispatch")
      env[b.name] = ctx.exports.Dispatch({
        props: { ...who, target: b.namespace, outbound: b.outbound ?? null },
      });
  }
  return env;
}

// The Worker of version `version`; with `outbound`, the instance whose fetch() goes through that
// namespace's outbound Worker with those parameters (one isolate per distinct set); `params` are
// an outbound Worker's own extra env values.
function worker(env, ctx, version, outbound, params) {
  let key = version;
  if (outbound) key += `|via|${JSON.stringify(outbound)}`;
  if (params) key += `|params|${JSON.stringify(params)}`;
  return env.LOADER.get(key, async () => {
    const spec = await emuJson(env, `/__runtime/worker/${encodeURIComponent(version)}`);
    const code = {
      compatibilityDate: spec.compatibilityDate,
      compatibilityFlags: spec.compatibilityFlags,
      mainModule: SHIM,
      modules: { ...decodeModules(spec.modules), [SHIM]: spec.shim },
      env: { ...buildEnv(spec, ctx), ...(params ?? {}) },
    };
    if (outbound) code.globalOutbound = ctx.exports.Outbound({ props: outbound });
    return code;
  });
}

// A Worker's front door, as the platform's router: its assets answer what they take (unless
// run_worker_first says otherwise), the Worker the rest. Dispatch and service fetches come here;
// the emulator decides from the method, URL and headers, so the body stays here for the Worker.
// The emulator's mark says how the Worker takes it: "always" (every request of this version, so
// it is not asked again), "image" (only an image or plain text may come back), else this one.
// The Worker is asked for only when it is called: the Worker Loader runs a version's load in the
// request that first asked, so asking in one that never calls (its assets answered) would leave a
// later caller on a finished request ("The execution context ... was canceled").
const alwaysWorker = new Set(); // versions whose router sends every request to the Worker

async function frontDoor(env, ctx, version, request, outbound) {
  const toWorker = () => worker(env, ctx, version, outbound).getEntrypoint().fetch(request);
  if (alwaysWorker.has(version)) return toWorker();
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  for (const h of ["content-length", "transfer-encoding", "upgrade", "connection", H_LIMITS, H_TOP]) {
    headers.delete(h);
  }
  headers.set("x-assetsync-host", url.host);
  const target = `${EMU}/__runtime/front/${encodeURIComponent(version)}${url.pathname}${url.search}`;
  const probe = await env.EMU.fetch(target, { method: request.method, headers });
  const mark = probe.headers.get(TO_WORKER);
  if (mark === null) return new Response(probe.body, probe);
  if (mark === "always") {
    if (alwaysWorker.size > 10000) alwaysWorker.clear();
    alwaysWorker.add(version);
  }
  const response = await toWorker();
  return mark === "image" ? imageOnly(response) : response;
}

// /_next/image of a remote URL, not loaded as an image: the router passes only one Content-Type,
// an image or plain text (the rule of compose.py's image_allowed).
function imageOnly(response) {
  const type = response.headers.get("content-type");
  if (response.status === 304 || (type !== null && !type.includes(",") &&
      (type.startsWith("image/") || type.split(";")[0] === "text/plain"))) return response;
  return new Response("Blocked", { status: 403 });
}

function withHeaders(request, headers) {
  const out = new Request(request);
  for (const [k, v] of Object.entries(headers)) out.headers.set(k, v);
  return out;
}

function errorPage(error, where) {
  const text = `${where}\n\n${error && error.stack ? error.stack : String(error)}`;
  return new Response(text, {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8", "x-assetsync-error": "worker" },
  });
}

// A Cron Trigger's event, as wrangler dev fires one from /cdn-cgi/local/scheduled: ?cron= is the
// pattern the handler sees (controller.cron), ?time= the scheduled time in ms since the epoch;
// the answer is the outcome ("ok", "exception", ...), 200 only for "ok"; ?format=json gives the
// whole result (outcome and noRetry).
async function scheduled(loaded, url) {
  const q = url.searchParams;
  const time = Number(q.get("time") || Date.now());
  const result = await loaded.getEntrypoint("__AssetsyncScheduled").fire(q.get("cron") ?? "", time);
  const status = result.outcome === "ok" ? 200 : 500;
  if (q.get("format") === "json") return Response.json(result, { status });
  return new Response(`${result.outcome}\n`, { status, headers: { "content-type": "text/plain" } });
}

export default {
  async fetch(request, env, ctx) {
    const version = request.headers.get(H_VERSION);
    if (!version) return new Response("assetsync host: ready\n");
    generation = request.headers.get(H_GEN) ?? generation;
    const inner = new Request(request.headers.get(H_URL) ?? request.url, request);
    for (const h of [H_VERSION, H_URL, H_GEN, H_EVENT]) inner.headers.delete(h);
    inner.headers.set(H_TOP, "1");
    try {
      const loaded = worker(env, ctx, version, null);
      if (request.headers.get(H_EVENT) === "scheduled") return await scheduled(loaded, new URL(inner.url));
      return await loaded.getEntrypoint().fetch(inner);
    } catch (error) {
      // The shim answers a Worker's own exception with its stack; what arrives here failed
      // before the Worker ran: its code would not load (a syntax error, a missing module).
      console.error(`The Worker of version ${version} could not be loaded: ${error?.stack ?? error}`);
      return errorPage(error, "The Worker could not be loaded:");
    }
  },
};

// env.ASSETS: the preview's asset layer for the Worker's own version.
export class Assets extends WorkerEntrypoint {
  async fetch(request) {
    const url = new URL(request.url);
    const target = `${EMU}/__runtime/assets/${encodeURIComponent(this.ctx.props.version)}${url.pathname}${url.search}`;
    const asked = new Request(target, request);
    asked.headers.set("x-assetsync-host", url.host); // _headers and _redirects rules may name it
    const res = await this.env.EMU.fetch(asked);
    return new Response(res.body, res); // headers made mutable, as the platform's are
  }
}

// A kv_namespace binding, on the emulator's store (the same the KV REST API writes).
export class Kv extends WorkerEntrypoint {
  url(path, params) {
    const q = new URLSearchParams(params);
    return `${EMU}/__runtime/kv/${encodeURIComponent(this.ctx.props.id)}/${path}?${q}`;
  }
  async fetchValue(key) {
    const res = await this.env.EMU.fetch(this.url("value", { key }));
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(await res.text());
    return res;
  }
  async get(key, options) {
    if (Array.isArray(key)) {
      const out = new Map();
      for (const k of key) out.set(k, await this.get(k, options));
      return out;
    }
    const res = await this.fetchValue(key);
    return res === null ? null : decode(res, options);
  }
  async getWithMetadata(key, options) {
    const res = await this.fetchValue(key);
    if (res === null) return { value: null, metadata: null };
    const raw = res.headers.get("x-kv-metadata");
    return { value: await decode(res, options), metadata: raw ? JSON.parse(decodeURIComponent(raw)) : null };
  }
  async put(key, value, options = {}) {
    const params = { key };
    if (options.expiration !== undefined) params.expiration = String(options.expiration);
    if (options.expirationTtl !== undefined) params.expiration_ttl = String(options.expirationTtl);
    const headers = {};
    if (options.metadata !== undefined) headers["x-kv-metadata"] = encodeURIComponent(JSON.stringify(options.metadata));
    const res = await this.env.EMU.fetch(this.url("value", params), { method: "PUT", body: value, headers });
    if (!res.ok) throw new Error(await res.text());
  }
  async delete(key) {
    const res = await this.env.EMU.fetch(this.url("value", { key }), { method: "DELETE" });
    if (!res.ok) throw new Error(await res.text());
  }
  async list(options = {}) {
    const params = {};
    for (const k of ["prefix", "limit", "cursor"]) if (options[k] != null) params[k] = String(options[k]);
    const res = await this.env.EMU.fetch(this.url("keys", params));
    if (!res.ok) throw new Error(await res.text());
    return res.json();
  }
}

async function decode(res, options) {
  const type = typeof options === "string" ? options : options?.type ?? "text";
  if (type === "json") return JSON.parse(await res.text());
  if (type === "arrayBuffer") return res.arrayBuffer();
  if (type === "stream") return res.body;
  return res.text();
}

// A service binding: the named script's live version, its default or a named entrypoint. fetch()
// to the default entrypoint goes through the target's front door (its assets may answer); any
// other property the caller asks for is the target's (the Proxy below).
export class Service extends WorkerEntrypoint {
  async fetch(request) {
    const version = await serviceVersion(this);
    if (this.ctx.props.entrypoint) return serviceStub(this, version).fetch(request); // no router there
    return frontDoor(this.env, this.ctx, version, new Request(request), null);
  }
}

// Not relayed: "then" (a Service must not look like a promise), "connect" (a socket, which the
// host does not carry) and "self" (workerd reads it off an entrypoint, as it does each handler).
const NOT_RELAYED = new Set(["then", "connect", "self"]);

// What Service lacks is looked up last on its prototype chain, here: a relay to the target's
// property of that name, called (an RPC method) or awaited (a property read); what either returns
// (an object, a stub, an RpcTarget) goes back as it came, so promise pipelining works through it.
Object.setPrototypeOf(
  Service.prototype,
  new Proxy(Object.getPrototypeOf(Service.prototype), {
    get(base, prop, receiver) {
      if (typeof prop !== "string" || prop in base || NOT_RELAYED.has(prop)) return Reflect.get(base, prop, receiver);
      const target = () => serviceVersion(receiver).then((version) => serviceStub(receiver, version));
      const relay = (...args) => target().then((stub) => stub[prop](...args));
      relay.then = (resolve, reject) => target().then((stub) => stub[prop]).then(resolve, reject);
      return relay;
    },
  }),
);

async function serviceVersion(self) {
  const { account, script } = self.ctx.props;
  const version = await liveVersion(self.env, account, "", script);
  if (!version) throw new Error(`Worker "${script}" is not deployed (the service binding's target).`);
  return version;
}

function serviceStub(self, version) {
  return worker(self.env, self.ctx, version, null).getEntrypoint(self.ctx.props.entrypoint ?? undefined);
}

// A dispatch_namespace binding: get(name, args, options) runs user Worker `name` of the namespace.
export class Dispatch extends WorkerEntrypoint {
  get(name, args, options = {}) {
    return new UserWorker(this.env, this.ctx, this.ctx.props, name, options ?? {});
  }
}

class UserWorker extends RpcTarget {
  constructor(env, ctx, props, name, options) {
    super();
    this.env = env;
    this.hostCtx = ctx;
    this.props = props;
    this.name = name;
    this.options = options;
  }
  async fetch(input, init) {
    const { account, target, outbound } = this.props;
    const version = await liveVersion(this.env, account, target, this.name);
    if (!version) throw new Error(`Worker not found: no script "${this.name}" in dispatch namespace "${target}".`);
    let out = null;
    if (outbound && outbound.service) {
      const given = this.options.outbound ?? {};
      const params = {};
      for (const p of outbound.params ?? []) if (p in given) params[p] = given[p];
      out = { account, service: outbound.service, params };
    }
    let request = new Request(input, init);
    if (this.options.limits) request = withHeaders(request, { [H_LIMITS]: JSON.stringify(this.options.limits) });
    return frontDoor(this.env, this.hostCtx, version, request, out);
  }
}

// The outbound Worker of a dispatch namespace: sees every fetch() a user Worker makes, with the
// parameters the dispatch Worker passed as its env.
export class Outbound extends WorkerEntrypoint {
  async fetch(request) {
    const { account, service, params } = this.ctx.props;
    const version = await liveVersion(this.env, account, "", service);
    if (!version) throw new Error(`the outbound Worker "${service}" is not deployed`);
    const stub = worker(this.env, this.ctx, version, null, params);
    return stub.getEntrypoint().fetch(request);
  }
}
