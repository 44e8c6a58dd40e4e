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

const given = user.default;
let main;
if (typeof given === "function" && given.prototype instanceof WorkerEntrypoint) {
  main = class extends given {};
  if (typeof given.prototype.fetch === "function") {
    main.prototype.fetch = function (request) {
      return invoke(request, this.env, (r) => given.prototype.fetch.call(this, r));
    };
  }
} else if (given && typeof given === "object") {
  main = { ...given };
  if (typeof given.fetch === "function") {
    main.fetch = (request, env, ctx) => invoke(request, env, (r) => given.fetch.call(given, r, env, ctx));
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

// How serve and dev fire a Cron Trigger (/cdn-cgi/local/scheduled): the host calls fire() by RPC,
// which runs the Worker's scheduled() as the platform would. (workerd's own way, a Fetcher's
// scheduled(), needs a compatibility flag on the host that would change what every Worker's
// service binding scheduled() call means.) The outcome is the platform's: "ok", or "exception"
// with the stack in the serve/dev output.
export class __AssetsyncScheduled extends WorkerEntrypoint {
  async fire(cron, scheduledTime) {
    let noRetry = false;
    const controller = { cron, scheduledTime, type: "scheduled", noRetry: () => void (noRetry = true) };
    let run = null;
    if (typeof given === "function" && given.prototype instanceof WorkerEntrypoint) {
      if (typeof given.prototype.scheduled === "function") {
        run = () => new given(this.ctx, this.env).scheduled(controller);
      }
    } else if (given && typeof given.scheduled === "function") {
      run = () => given.scheduled(controller, this.env, this.ctx);
    }
    if (run === null) {
      console.error("This Worker has no scheduled() handler: export one beside fetch() to run Cron Triggers.");
      return { outcome: "exception", noRetry };
    }
    try {
      await run();
      return { outcome: "ok", noRetry };
    } catch (error) {
      console.error(`Uncaught in scheduled(): ${error && error.stack ? error.stack : error}`);
      return { outcome: "exception", noRetry };
    }
  }
}
