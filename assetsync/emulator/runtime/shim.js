// assetsync's wrapper around a deployed Worker's main module (__MAIN__ is its specifier). It adds
// what workerd leaves to the platform around a Worker: an exception's stack in the serve/dev output
// (of fetch() and scheduled()) and on a 500 page, and a dispatch call's subrequest limit. Named
// entrypoints pass through as they are.

import * as user from __MAIN__;
export * from __MAIN__;
import { AsyncLocalStorage } from "node:async_hooks";
import { WorkerEntrypoint } from "cloudflare:workers";

const H_TOP = "x-assetsync-top";
const H_LIMITS = "x-assetsync-limits";
const calls = new AsyncLocalStorage();
const platformFetch = globalThis.fetch;

// Each fetch() counts against the calling request's subrequest limit, when a dispatch set one.
globalThis.fetch = function fetch(input, init) {
  const call = calls.getStore();
  if (call && call.limit !== undefined && ++call.count > call.limit) {
    return Promise.reject(new Error(`Too many subrequests (the dispatch limit is ${call.limit}).`));
  }
  return platformFetch(input, init);
};

async function invoke(request, env, run) {
  const top = request.headers.has(H_TOP);
  const limits = request.headers.get(H_LIMITS);
  if (top || limits) {
    request = new Request(request);
    request.headers.delete(H_TOP);
    request.headers.delete(H_LIMITS);
  }
  const parsed = limits ? JSON.parse(limits) : {};
  const call = { count: 0, limit: parsed.subRequests };
  const started = Date.now();
  try {
    return await calls.run(call, () => run(request));
  } catch (error) {
    console.error(`Uncaught ${error && error.stack ? error.stack : error}`);
    if (!top) throw error; // a dispatch or service caller sees the exception, as on the platform
    const text = `The Worker threw an exception:\n\n${error && error.stack ? error.stack : String(error)}\n`;
    return new Response(text, {
      status: 500,
      headers: { "content-type": "text/plain; charset=utf-8", "x-assetsync-error": "worker" },
    });
  } finally {
    const took = Date.now() - started;
    if (parsed.cpuMs !== undefined && took > parsed.cpuMs) {
      console.warn(
        `assetsync: this call ran ${took} ms (wall time) against a cpuMs limit of ${parsed.cpuMs}; ` +
          "workerd does not measure CPU time, so the limit is not enforced locally",
      );
    }
  }
}

// A scheduled() handler's exception: its stack in the serve/dev output (the caller gets the outcome).
async function logged(run) {
  try {
    return await run();
  } catch (error) {
    console.error(`Uncaught in scheduled(): ${error && error.stack ? error.stack : error}`);
    throw error;
  }
}

const given = user.default;
let main;
if (typeof given === "function" && given.prototype instanceof WorkerEntrypoint) {
  main = class extends given {};
  if (typeof given.prototype.fetch === "function") {
    main.prototype.fetch = function (request) {
      return invoke(request, this.env, (r) => given.prototype.fetch.call(this, r));
    };
  }
  if (typeof given.prototype.scheduled === "function") {
    main.prototype.scheduled = function (controller) {
      return logged(() => given.prototype.scheduled.call(this, controller));
    };
  }
} else if (given && typeof given === "object") {
  main = { ...given };
  if (typeof given.fetch === "function") {
    main.fetch = (request, env, ctx) => invoke(request, env, (r) => given.fetch.call(given, r, env, ctx));
  }
  if (typeof given.scheduled === "function") {
    main.scheduled = (controller, env, ctx) => logged(() => given.scheduled.call(given, controller, env, ctx));
  }
} else {
  main = {
    fetch() {
      return new Response("This Worker's main module has no default export with a fetch handler.\n", {
        status: 500,
        headers: { "x-assetsync-error": "worker" },
      });
    },
  };
}
export default main;
