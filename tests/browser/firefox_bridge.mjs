// Drives Debian's Firefox ESR over WebDriver BiDi with puppeteer-core, for the pytest
// browser tests (tests/browser/engines.py). One JSON command per stdin line, one JSON answer
// per stdout line: {id, ok, value} or {id, ok: false, error}.
//
// FIREFOX names the browser; VIEWPORT is "WIDTHxHEIGHT". The fake camera and microphone
// answer getUserMedia without asking, as a parent's tap on "Allow" would.
import readline from "node:readline";
import puppeteer from "puppeteer-core";

const [width, height] = (process.env.VIEWPORT || "390x844").split("x").map(Number);

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
  headless: true,
  protocolTimeout: 60_000,
  extraPrefsFirefox: {
    "media.navigator.streams.fake": true,
    "media.navigator.permission.disabled": true,
    "media.autoplay.default": 0,
    "browser.shell.checkDefaultBrowser": false,
  },
});
const page = await browser.newPage();
await page.setViewport({ width, height, deviceScaleFactor: 2 });
page.setDefaultTimeout(30_000);
const console_errors = [];
page.on("pageerror", (err) => console_errors.push(String(err)));

const ops = {
  async goto({ url }) {
    const response = await page.goto(url, { waitUntil: "load" });
    return response ? response.status() : null;
  },
  async reload() {
    const response = await page.reload({ waitUntil: "load" });
    return response ? response.status() : null;
  },
  async run({ source, args }) {
    // An expression, so the page's CSP (no eval) does not apply to the test's own code.
    return page.evaluate(`(${source})(...${JSON.stringify(args || [])})`);
  },
  async click({ selector }) {
    await page.click(selector);
    return true;
  },
  async upload({ selector, path }) {
    const input = await page.$(selector);
    if (!input) throw new Error("no element " + selector);
    await input.uploadFile(path);
    return true;
  },
  async screenshot({ path }) {
    await page.screenshot({ path, fullPage: true });
    return path;
  },
  async url() {
    return page.url();
  },
  async errors() {
    return console_errors.splice(0);
  },
  async version() {
    return browser.version();
  },
};

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  if (command.op === "quit") break;
  let answer;
  try {
    answer = { id: command.id, ok: true, value: await ops[command.op](command) };
  } catch (err) {
    answer = { id: command.id, ok: false, error: String((err && err.stack) || err) };
  }
  process.stdout.write(JSON.stringify(answer === undefined ? null : answer) + "\n");
}
await browser.close();
