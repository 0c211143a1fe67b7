// run.mjs: drive Debian's Chromium (headless, through playwright-core) over the demo pages of one base URL.
// Usage: node run.mjs [--events] BASE_URL [HOST_RESOLVER_RULES]
//   (e.g. https://127.0.0.1:8443, or https://www.example.com:8443 "MAP www.example.com 127.0.0.1")
// --events: also the events page (/events); the caller publishes for it: run.mjs prints
//   PUBLISH {"channel": NAME, "text": TEXT} or PUBLISH {"channel": NAME, "binary": BYTES}
//   and reads one line back, PUBLISHED {the publisher's answer} (tests/lib/browser.py).
// Prints one JSON object (the last line) with what each check saw; tests/lib/browser.py judges it.
import { chromium } from "playwright-core";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const argv = process.argv.slice(2);
const events = argv.includes("--events");
const [base, resolve] = argv.filter((a) => a !== "--events");
const TIMEOUT = 20000;

// The caller's answers to PUBLISH, one line each, in order.
const stdin = createInterface({ input: process.stdin });
const answers = stdin[Symbol.asyncIterator]();

async function publish(what) {
  process.stdout.write("PUBLISH " + JSON.stringify(what) + "\n");
  const next = await Promise.race([
    answers.next(),
    new Promise((_, fail) => setTimeout(
      () => fail(new Error("no answer to PUBLISH within " + TIMEOUT + " ms")), TIMEOUT)),
  ]);
  if (next.done || !next.value.startsWith("PUBLISHED ")) {
    throw new Error("no answer to PUBLISH: " + JSON.stringify(next.value));
  }
  const answer = JSON.parse(next.value.slice("PUBLISHED ".length));
  if (answer.error) {
    throw new Error("the caller's publish failed: " + answer.error);
  }
  return answer;
}

// Flags this machine's Chromium needs headless as root in a container, and
// nothing that talks to the network; a fresh profile every run.
const profile = mkdtempSync(join(tmpdir(), "mws-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  ignoreHTTPSErrors: true,          // the demo's self-signed certificate
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync"].concat(resolve ? ["--host-resolver-rules=" + resolve] : []),
});
const result = { base };

async function step(name, fn) {
  try {
    result[name] = await fn();
  } catch (e) {
    result[name] = { error: String(e && e.stack || e) };
  }
}

try {
  // The echo page: its form sends, its log shows the echo.
  await step("echo_page", async () => {
    const page = await context.newPage();
    await page.goto(base + "/");
    await page.waitForFunction(
      () => document.getElementById("echo-status").textContent === "open",
      null, { timeout: TIMEOUT });
    await page.fill("#echo-text", "hello from chromium ✓");
    await page.click("#echo-form button");
    await page.waitForFunction(
      () => document.getElementById("log").textContent.includes("← hello from chromium ✓"),
      null, { timeout: TIMEOUT });
    const log = await page.textContent("#log");
    await page.close();
    return { log };
  });

  // From the page's origin: a 1 MiB Blob round trip, then a clean close.
  await step("blob_and_close", async () => {
    const page = await context.newPage();
    await page.goto(base + "/");
    const out = await page.evaluate(async () => {
      const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/echo";
      const ws = new WebSocket(url);
      ws.binaryType = "blob";
      await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
      const sent = new Uint8Array(1 << 20);
      for (let i = 0; i < sent.length; i += 65536) {
        crypto.getRandomValues(sent.subarray(i, i + 65536));
      }
      ws.send(new Blob([sent]));
      const blob = await new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
      const got = new Uint8Array(await blob.arrayBuffer());
      let same = got.length === sent.length;
      for (let i = 0; same && i < got.length; i++) {
        same = got[i] === sent[i];
      }
      const closed = new Promise((ok) => {
        ws.onclose = (e) => ok({ code: e.code, reason: e.reason, wasClean: e.wasClean });
      });
      ws.close(1000, "done");
      return { isBlob: blob instanceof Blob, size: got.length, same, close: await closed };
    });
    await page.close();
    return out;
  });

  // Many at once, then many one after the other: each echoes and closes
  // cleanly (over HTTP/2 each is a stream of the page's one connection).
  await step("many", async () => {
    const page = await context.newPage();
    await page.goto(base + "/");
    const out = await page.evaluate(async () => {
      const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/echo";
      function session(id, messages) {
        return new Promise((ok) => {
          const ws = new WebSocket(url);
          const got = [];
          ws.onopen = () => {
            for (let i = 0; i < messages; i++) {
              ws.send(id + ":" + i);
            }
          };
          ws.onmessage = (e) => {
            got.push(e.data);
            if (got.length === messages) {
              ws.close(1000);
            }
          };
          ws.onclose = (e) => {
            const want = Array.from({ length: messages }, (_, i) => id + ":" + i);
            ok(e.code === 1000 && e.wasClean && got.join() === want.join());
          };
        });
      }
      const concurrent = await Promise.all(
        Array.from({ length: 40 }, (_, i) => session("c" + i, 20)));
      let sequential = 0;
      for (let i = 0; i < 30; i++) {
        sequential += (await session("s" + i, 3)) ? 1 : 0;
      }
      return { concurrent: concurrent.filter((x) => x).length, sequential };
    });
    await page.close();
    return out;
  });

  // The echo page's file: a ~300 KB file picked in its <input type=file>
  // goes out with ws.send(file) (a Blob) and comes back; the page shows both
  // sizes and SHA-256s, which must be the file's.
  await step("echo_file", async () => {
    const page = await context.newPage();
    await page.goto(base + "/");
    await page.waitForFunction(
      () => document.getElementById("echo-status").textContent === "open",
      null, { timeout: TIMEOUT });
    const buffer = randomBytes(300 * 1024 + 77);
    const sha256 = createHash("sha256").update(buffer).digest("hex");
    await page.setInputFiles("#echo-file", {
      name: "random.bin", mimeType: "application/octet-stream", buffer });
    await page.click("#file-send");
    await page.waitForFunction(
      () => document.getElementById("file-result").dataset.match !== undefined,
      null, { timeout: TIMEOUT });
    const out = await page.evaluate(() => {
      const el = document.getElementById("file-result");
      return { text: el.textContent, ...el.dataset };
    });
    await page.close();
    return { size: buffer.length, sha256, ...out };
  });

  // The events page: it subscribes to a fresh channel; what the caller
  // POSTs to /pub/CHANNEL (text, then binary) shows up there.
  if (events) {
    await step("events_page", async () => {
      const channel = "t500-" + Math.random().toString(36).slice(2, 8);
      const text = "event for " + channel + " ✓";
      const page = await context.newPage();
      await page.goto(base + "/events");
      await page.waitForFunction(
        () => document.getElementById("status").textContent === "open",
        null, { timeout: TIMEOUT });
      await page.fill("#channel", channel);
      await page.click("#subscribe");
      await page.waitForFunction(
        (c) => document.getElementById("status").textContent === "open"
          && document.getElementById("events").textContent.includes("subscribed to " + c),
        channel, { timeout: TIMEOUT });
      const curl = await page.textContent("#curl");
      const answers = [await publish({ channel, text })];
      await page.waitForFunction(
        (t) => document.getElementById("events").textContent.includes(t),
        text, { timeout: TIMEOUT });
      answers.push(await publish({ channel, binary: 4097 }));
      await page.waitForFunction(
        () => document.getElementById("events").textContent.includes("binary, 4097 bytes"),
        null, { timeout: TIMEOUT });
      const seen = await page.textContent("#events");
      await page.close();
      return { channel, text, curl, answers, seen };
    });
  }

  // Two chat pages in one room: what one says, the other shows. Each page
  // shows every message, its own too (the room sends it back to everyone),
  // and assert_pages_work (tests/lib/browser.py) asserts just that: so
  // every message is waited for on both pages, never read off a page
  // before it arrived.
  async function shows(page, text) {
    await page.waitForFunction(
      (t) => document.getElementById("messages").textContent.includes(t),
      text, { timeout: TIMEOUT });
  }

  await step("chat", async () => {
    const room = "room-" + Math.random().toString(36).slice(2, 8);
    const pages = [await context.newPage(), await context.newPage()];
    for (const [page, user] of [[pages[0], "ann"], [pages[1], "ben"]]) {
      await page.goto(base + "/chat");
      await page.waitForFunction(
        () => document.getElementById("status").textContent === "open",
        null, { timeout: TIMEOUT });
      await page.fill("#user", user);
      await page.fill("#room", room);
      await page.click("#join");
      await shows(page, user + " joined");
    }
    await shows(pages[0], "ben joined");
    await pages[0].fill("#text", "hello ben");
    await pages[0].click("#send");
    await shows(pages[1], "ann: hello ben");
    await shows(pages[0], "ann: hello ben");
    await pages[1].fill("#text", "hi ann");
    await pages[1].click("#send");
    await shows(pages[0], "ben: hi ann");
    await shows(pages[1], "ben: hi ann");
    const seen = [await pages[0].textContent("#messages"), await pages[1].textContent("#messages")];
    for (const page of pages) {
      await page.close();
    }
    return { room, seen };
  });
} finally {
  stdin.close();
  process.stdin.destroy();
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
