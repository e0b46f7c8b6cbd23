// End-to-end tests of the web console in the system's headless Chromium, driven by
// playwright-core, against the real `cairn` binary on loopback (ephemeral ports).
//
//   node --test test.mjs            (CAIRN_BIN: the binary; default: the debug build)
//
// Screenshots of every page go to CAIRN_CONSOLE_SCREENSHOTS (default
// /tmp/cairn-console-screenshots), for a person to look at; they are not kept in git.
// Without Chromium the test fails: it never passes by skipping.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const run = promisify(execFile);
const BIN = process.env.CAIRN_BIN || "/var/tmp/cairn-target/debug/cairn";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.CAIRN_CONSOLE_SCREENSHOTS || "/tmp/cairn-console-screenshots";
const ROOT = "console-root";
const ROOT_SECRET = `root-${randomBytes(12).toString("hex")}`;
// Bounds of the waits below: generous for a loaded 2-core CI machine.
const START_WAIT_MS = 30_000;
const UPLOAD_WAIT_MS = 180_000;
const BIG_BYTES = 30 * 1024 * 1024;

const work = mkdtempSync(join(tmpdir(), "cairn-console-"));
const servers = [];
let browser;

function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

/// Starts `cairn server` with `env`; resolves to its API and console URLs.
function startServer(name, env = {}) {
  const data = join(work, name);
  mkdirSync(data, { recursive: true });
  const child = spawn(BIN, ["server", "--address", "127.0.0.1:0", "--console-address", "127.0.0.1:0", `${data}/d{1...4}`], {
    env: { ...process.env, CAIRN_ROOT_USER: ROOT, CAIRN_ROOT_PASSWORD: ROOT_SECRET, CAIRN_LOG: "warn", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  servers.push(child);
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`${name}: no addresses within ${START_WAIT_MS} ms: ${text}`)), START_WAIT_MS);
    child.on("exit", (code) => reject(new Error(`${name}: the server exited (${code}) before it listened`)));
    child.stdout.on("data", (chunk) => {
      text += chunk;
      const api = /API: (\S+)/.exec(text);
      const consoleUrl = /Console: (\S+)/.exec(text);
      if (api && consoleUrl) {
        clearTimeout(timer);
        resolve({ api: api[1], console: consoleUrl[1] });
      }
    });
  });
}

/// Runs the cairn CLI with an alias `t` made of `keys` at `api`.
async function cli(api, keys, ...args) {
  const url = new URL(api);
  url.username = encodeURIComponent(keys.access);
  url.password = encodeURIComponent(keys.secret);
  return run(BIN, args, { env: { ...process.env, CAIRN_HOST_t: url.toString().replace(/\/$/, ""), CAIRN_CONFIG_DIR: join(work, "cli") } });
}

async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function login(page, base, access, secret) {
  await page.goto(`${base}/login`);
  await submitLogin(page, access, secret);
}

/// Fills and sends the login form on the current page.
async function submitLogin(page, access, secret) {
  await page.fill("#access-key", access);
  await page.fill("#secret-key", secret);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
}

async function download(page, action) {
  const [file] = await Promise.all([page.waitForEvent("download"), action()]);
  const path = join(work, `download-${randomBytes(4).toString("hex")}`);
  await file.saveAs(path);
  return readFileSync(path);
}

before(async () => {
  assert.ok(existsSync(BIN), `the cairn binary is missing at ${BIN} (set CAIRN_BIN)`);
  assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}: apt-get install chromium (tests/console/install.sh)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  for (const child of servers) child.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
});

test("an operator and a read-only user work through the console", { timeout: 600_000 }, async () => {
  // With a master key: the object page tells an encrypted object (below).
  const { api, console: base } = await startServer("main", {
    CAIRN_KMS_SECRET_KEY: `console-test:${Buffer.alloc(32, 7).toString("base64")}`,
  });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("dialog", (dialog) => dialog.accept());

  // Log in: a wrong secret is refused with a message; the right one opens the dashboard.
  await page.goto(`${base}/buckets`);
  assert.match(page.url(), /\/login\?/, "a page without a session sends the browser to the login page");
  await shot(page, "01-login");
  await submitLogin(page, ROOT, "not-the-secret");
  assert.match(await page.textContent(".error"), /wrong/);
  await submitLogin(page, ROOT, ROOT_SECRET);
  assert.match(page.url(), /\/buckets$/, "after login the browser goes where it was headed");
  await page.goto(`${base}/dashboard`);
  const dashboard = await page.textContent("main");
  assert.match(dashboard, /4 of 4 drives/);
  assert.match(dashboard, /2 \+ 2/, "the erasure layout");
  assert.match(dashboard, /0 queued, 0 failures/, "the healing backlog");
  assert.match(dashboard, /Compression\s*none/, "no compressed objects yet: the ratio card says so");
  await page.waitForFunction(() => /\/s$|ms$/.test(document.querySelector("[data-value=requests]")?.textContent || ""), null, { timeout: 20_000 });
  await shot(page, "02-dashboard");

  // Create a bucket.
  await page.goto(`${base}/buckets`);
  await page.fill("#bucket-name", "crm-e2e");
  await Promise.all([page.waitForNavigation(), page.click("text=Create bucket")]);
  assert.match(await page.textContent(".notice"), /crm-e2e created/);
  await page.fill("#bucket-name", "Bad_Name");
  await page.$eval("#bucket-name", (input) => input.removeAttribute("pattern"));
  await Promise.all([page.waitForNavigation(), page.click("text=Create bucket")]);
  assert.match(await page.textContent(".error"), /not a valid bucket name/);
  await shot(page, "03-buckets");

  // Upload a 30 MiB file (multipart) and a folder; both are listed.
  const big = randomBytes(BIG_BYTES);
  const bigPath = join(work, "big.bin");
  writeFileSync(bigPath, big);
  const folder = join(work, "docs");
  mkdirSync(join(folder, "a", "b"), { recursive: true });
  writeFileSync(join(folder, "3.csv"), "id,name\n1,Ada\n");
  writeFileSync(join(folder, "a", "1.txt"), "hello from a folder\n");
  writeFileSync(join(folder, "a", "b", "2.json"), JSON.stringify({ quote: 42, items: ["x", "y"] }));
  await page.goto(`${base}/browse/crm-e2e`);
  await page.setInputFiles("#files", bigPath);
  await page.waitForSelector("table.objects a:text-is('big.bin')", { timeout: UPLOAD_WAIT_MS });
  await page.setInputFiles("#folder", folder);
  await page.waitForSelector("table.objects a.folder:text-is('docs/')", { timeout: UPLOAD_WAIT_MS });
  assert.match(await page.textContent("table.objects"), /30\.0 MiB/);
  await shot(page, "04-browse");
  await page.click("table.objects a.folder:text-is('docs/')");
  await page.click("table.objects a.folder:text-is('a/')");
  assert.match(await page.textContent("table.objects"), /1\.txt/);
  assert.match(await page.textContent(".crumbs"), /crm-e2e\s*\/?\s*docs\s*\/?\s*a/);

  // Download the large file: byte for byte what was uploaded.
  await page.goto(`${base}/object/crm-e2e?key=big.bin`);
  await shot(page, "05-object");
  // An unversioned bucket's object has one version, the null one, current.
  assert.match(await page.textContent("table[aria-labelledby=versions-title]"), /null[\s\S]*30\.0 MiB[\s\S]*current/);
  const fetched = await download(page, () => page.click("a.button[download]"));
  assert.equal(fetched.length, BIG_BYTES);
  assert.equal(sha256(fetched), sha256(big), "the download is byte-identical");
  assert.doesNotMatch(await page.textContent("dl.meta"), /Encryption/, "a plain object says nothing of encryption");

  // An object sealed by the bucket's default encryption (SSE-S3) says so, and downloads.
  const root = { access: ROOT, secret: ROOT_SECRET };
  await cli(api, root, "encrypt", "set", "sse-s3", "t/crm-e2e");
  const sealedPath = join(work, "sealed.txt");
  writeFileSync(sealedPath, "personal data\n");
  await cli(api, root, "cp", sealedPath, "t/crm-e2e/sealed.txt");
  await cli(api, root, "encrypt", "clear", "t/crm-e2e");
  await page.goto(`${base}/object/crm-e2e?key=sealed.txt`);
  assert.match(await page.textContent("dl.meta"), /Encryption\s*SSE-S3/);
  assert.match(await page.textContent(".preview pre"), /personal data/);

  // Preview of JSON (indented) and a share link that works without credentials.
  await page.goto(`${base}/object/crm-e2e?key=${encodeURIComponent("docs/a/b/2.json")}`);
  assert.match(await page.textContent(".preview pre"), /"quote": 42/);
  await Promise.all([page.waitForNavigation(), page.click("text=Create share link")]);
  const link = await page.inputValue("#share-link");
  assert.ok(link.startsWith(api), `the share link points at the S3 API: ${link}`);
  const shared = await fetch(link);
  assert.equal(shared.status, 200);
  assert.deepEqual(JSON.parse(await shared.text()), { quote: 42, items: ["x", "y"] });
  await shot(page, "06-object-preview-share");

  // A folder as a zip, streamed.
  await page.goto(`${base}/browse/crm-e2e?prefix=docs%2F`);
  const zip = await download(page, () => page.click("text=Download folder as zip"));
  const zipPath = join(work, "docs.zip");
  writeFileSync(zipPath, zip);
  const listing = await run("python3", ["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print('\\n'.join(sorted(z.namelist())))", zipPath]);
  assert.equal(listing.stdout.trim(), ["3.csv", "a/1.txt", "a/b/2.json"].join("\n"));

  // Private until made public: then anyone can read with plain HTTP.
  const objectUrl = `${api}/crm-e2e/docs/3.csv`;
  assert.equal((await fetch(objectUrl)).status, 403, "a private bucket refuses anonymous reads");
  await page.goto(`${base}/buckets/crm-e2e/access`);
  await page.check("input[name=mode][value=custom]");
  await page.fill("#policy", "{ not json");
  await page.click("text=Save access");
  assert.match(await page.textContent("#policy-check"), /Not valid JSON/, "broken JSON is caught before it is sent");
  await page.check("input[name=mode][value=public]");
  await Promise.all([page.waitForNavigation(), page.click("text=Save access")]);
  assert.match(await page.textContent(".notice"), /Access saved/);
  await shot(page, "07-access");
  const anonymous = await fetch(objectUrl);
  assert.equal(anonymous.status, 200);
  assert.equal(await anonymous.text(), "id,name\n1,Ada\n");
  await page.goto(`${base}/buckets`);
  assert.match(await page.textContent("table"), /public read/);

  // Event notifications: a webhook target (set with the CLI), a rule added in the
  // console, events of a matching upload reach the endpoint, the rule is removed.
  const hooks = [];
  const hook = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => { body += chunk; });
    request.on("end", () => { hooks.push(JSON.parse(body)); response.end(); });
  });
  await new Promise((resolve) => hook.listen(0, "127.0.0.1", resolve));
  const hookUrl = `http://127.0.0.1:${hook.address().port}/events`;
  await cli(api, root, "admin", "config", "set", "t", "notify_webhook:console", `endpoint=${hookUrl}`);
  await page.goto(`${base}/buckets`);
  await Promise.all([page.waitForNavigation(), page.click(`a[href$="/buckets/crm-e2e/events"]`)]);
  assert.match(await page.textContent("main"), /sends no events/);
  assert.equal(await page.getAttribute("#targets option", "value"), "arn:minio:sqs::console:webhook", "the servers' targets are offered");
  await page.fill("#arn", "arn:minio:sqs::console:webhook");
  await page.check("input[name=event_put]");
  await page.fill("#suffix", ".pdf");
  await Promise.all([page.waitForNavigation(), page.click("text=Add rule")]);
  assert.match(await page.textContent(".notice"), /Rule added/);
  assert.match(await page.textContent("table[aria-labelledby=rules-title]"), /arn:minio:sqs::console:webhook[\s\S]*s3:ObjectCreated:\*[\s\S]*\.pdf/);
  await shot(page, "07b-events");
  const pdfPath = join(work, "quote.pdf");
  writeFileSync(pdfPath, "%PDF-1.4 quote\n");
  await cli(api, root, "cp", pdfPath, "t/crm-e2e/quotes/quote.pdf");
  await cli(api, root, "cp", sealedPath, "t/crm-e2e/quotes/not-a-pdf.txt");
  for (let waited = 0; hooks.length < 1 && waited < 30000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 700));
  assert.deepEqual(hooks.map((h) => [h.EventName, h.Records[0].s3.object.key]), [["s3:ObjectCreated:Put", "quotes/quote.pdf"]]);
  // A target no server has is refused, and the page says why.
  await page.fill("#arn", "arn:minio:sqs::nowhere:webhook");
  await page.check("input[name=event_delete]");
  await Promise.all([page.waitForNavigation(), page.click("text=Add rule")]);
  assert.match(await page.textContent(".error"), /destination ARN does not exist/);
  await Promise.all([page.waitForNavigation(), page.click("table[aria-labelledby=rules-title] button:has-text('Remove')")]);
  assert.match(await page.textContent(".notice"), /Rule removed/);
  assert.match(await page.textContent("main"), /sends no events/);
  hook.close();

  // A read-only policy (MinIO's canned `readonly` cannot list), a user with it, and a group.
  await page.goto(`${base}/identity/policies`);
  await page.fill("#policy-name", "crm-reader");
  await page.fill("#policy-doc", "{ \"Version\": ");
  await page.click("text=Save policy");
  assert.match(await page.textContent("#policy-doc-check"), /Not valid JSON/);
  await page.fill("#policy-doc", JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: ["s3:ListAllMyBuckets", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"], Resource: ["arn:aws:s3:::*"] }],
  }));
  await Promise.all([page.waitForNavigation(), page.click("text=Save policy")]);
  assert.match(await page.textContent(".notice"), /crm-reader saved/);
  await page.fill("#policy-doc", JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Maybe", Action: ["s3:GetObject"], Resource: ["*"] }] }));
  await Promise.all([page.waitForNavigation(), page.click("text=Save policy")]);
  assert.ok(await page.$(".error"), "the server refuses a malformed policy and says so");
  await page.goto(`${base}/identity/users`);
  await page.fill("#new-user", "reader");
  await page.fill("#new-secret", "reader-secret-1");
  await page.selectOption("#new-policy", "crm-reader");
  await Promise.all([page.waitForNavigation(), page.click("text=Create user")]);
  assert.match(await page.textContent(".notice"), /reader created/);
  assert.match(await page.textContent("table"), /crm-reader/);
  await shot(page, "08-users");
  await page.goto(`${base}/identity/groups`);
  await page.fill("#new-group", "auditors");
  await page.fill("#new-members", "reader");
  await Promise.all([page.waitForNavigation(), page.click("text=Create group")]);
  assert.match(await page.textContent("table"), /auditors[\s\S]*reader/);
  await shot(page, "09-groups");
  await page.goto(`${base}/identity/policies?name=crm-reader`);
  assert.match(await page.inputValue("#policy-doc"), /s3:ListAllMyBuckets/);
  await shot(page, "10-policies");

  // An access key: shown once, works with a real client, stops working when revoked.
  await page.goto(`${base}/identity/keys`);
  await page.fill("#key-name", "ci-key");
  await Promise.all([page.waitForNavigation(), page.click("text=Create access key")]);
  const keys = { access: await page.inputValue("#created-access"), secret: await page.inputValue("#created-secret") };
  await shot(page, "11-access-key-created");
  const listed = await cli(api, keys, "ls", "t/crm-e2e");
  assert.match(listed.stdout, /big\.bin/);
  await page.goto(`${base}/identity/keys`);
  await Promise.all([page.waitForNavigation(), page.click(`form[action$="/identity/keys/${keys.access}/delete"] button`)]);
  assert.match(await page.textContent(".notice"), /revoked/);
  await assert.rejects(cli(api, keys, "ls", "t/crm-e2e"), /access|denied|InvalidAccessKeyId|does not exist/i);

  // Operations: a heal with live progress, and the configuration export.
  await page.goto(`${base}/operations`);
  await Promise.all([page.waitForNavigation(), page.click("text=Start heal")]);
  await page.waitForSelector("#heal[data-done=true]", { timeout: 60_000 });
  assert.match(await page.textContent("#heal-state"), /finished/);
  assert.match(await page.textContent("#heal-counts"), /scanned/);
  await shot(page, "12-operations-heal");
  const exported = (await download(page, () => page.click("text=Export the configuration"))).toString();
  assert.match(exported, /scanner|region|api/);
  await page.fill("#setting", "scanner speed=slow");
  await Promise.all([page.waitForNavigation(), page.click("text=Apply")]);
  assert.match(await page.textContent(".notice"), /Applied: scanner speed=slow/);
  assert.match(await page.textContent("main pre"), /speed=slow/);
  await page.fill("#setting", "scanner no_such_key=1");
  await Promise.all([page.waitForNavigation(), page.click("text=Apply")]);
  assert.match(await page.textContent(".error"), /refused and nothing changed/);

  // A state-changing request without the CSRF token is refused, and changes nothing.
  const forged = await context.request.post(`${base}/buckets`, { form: { bucket: "csrf-forged" }, maxRedirects: 0 });
  assert.equal(forged.status(), 403);
  const forgedUpload = await context.request.put(`${base}/api/upload/crm-e2e?key=forged.txt`, { data: "x" });
  assert.equal(forgedUpload.status(), 403);
  await page.goto(`${base}/buckets`);
  assert.doesNotMatch(await page.textContent("main"), /csrf-forged/);

  // Phone width: the browser page still works.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/browse/crm-e2e`);
  await shot(page, "13-browse-phone");
  await page.setViewportSize({ width: 1280, height: 900 });

  // Log out, then log in as the read-only user.
  await Promise.all([page.waitForNavigation(), page.click("text=Log out")]);
  assert.match(page.url(), /\/login$/);
  const afterLogout = await context.request.get(`${base}/buckets`, { maxRedirects: 0 });
  assert.equal(afterLogout.status(), 303, "the session cookie is gone after logout");
  await login(page, base, "reader", "reader-secret-1");
  assert.match(page.url(), /\/buckets$/, "a user without admin rights lands on the buckets");
  assert.match(await page.textContent("table"), /crm-e2e/);
  const nav = await page.textContent("header nav");
  assert.doesNotMatch(nav, /Users|Policies|Operations|Dashboard/, "no identity, config or dashboard pages in the menu");
  const refused = await page.goto(`${base}/identity/users`);
  assert.equal(refused.status(), 403);
  assert.match(await page.textContent("main"), /access denied|not allowed/i);
  await shot(page, "14-reader-refused");
  await page.goto(`${base}/browse/crm-e2e`);
  await page.check("input[name=key][value='big.bin']");
  await Promise.all([page.waitForNavigation(), page.click("text=Delete selected")]);
  assert.match(await page.textContent(".error"), /may not delete crm-e2e\/big\.bin/);
  assert.match(await page.textContent("table.objects"), /big\.bin/, "the object is still there");
  await shot(page, "15-reader-delete-refused");
  await context.close();
});

test("sessions expire, logins are rate limited and counted", { timeout: 120_000 }, async () => {
  const { console: base, api } = await startServer("short", {
    CAIRN_BROWSER_SESSION_DURATION: "2s",
    CAIRN_PROMETHEUS_AUTH_TYPE: "public",
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  await login(page, base, ROOT, ROOT_SECRET);
  assert.match(page.url(), /\/dashboard$/);
  const csrf = await page.getAttribute("body", "data-csrf");
  // The browser drops the cookie at its Max-Age; a copy sent later must be refused by the server.
  const [cookie] = (await context.cookies()).filter((c) => c.name === "cairn_session");
  const headers = { cookie: `cairn_session=${cookie.value}` };
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const expired = await fetch(`${base}/buckets`, { headers, redirect: "manual" });
  assert.equal(expired.status, 303);
  assert.match(expired.headers.get("location"), /\/login\?.*expired/);
  const expiredPost = await fetch(`${base}/buckets`, {
    method: "POST", headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
    body: `bucket=late&csrf=${encodeURIComponent(csrf)}`, redirect: "manual",
  });
  assert.equal(expiredPost.status, 303, "an expired session cannot change anything");
  const buckets = await cli(api, { access: ROOT, secret: ROOT_SECRET }, "ls", "t");
  assert.doesNotMatch(buckets.stdout, /late/, "no bucket was made");

  let limited = 0;
  for (let attempt = 0; attempt < 12; attempt += 1) {
    const answer = await context.request.post(`${base}/login`, { form: { accessKey: ROOT, secretKey: "wrong" }, maxRedirects: 0 });
    if (answer.status() === 429) limited += 1;
    else assert.equal(answer.status(), 401);
  }
  assert.ok(limited >= 2, `the 11th and later attempts are refused (${limited} were)`);
  const limitedRight = await context.request.post(`${base}/login`, { form: { accessKey: ROOT, secretKey: ROOT_SECRET }, maxRedirects: 0 });
  assert.equal(limitedRight.status(), 429, "even the right secret waits once the source is limited");
  const metrics = await (await fetch(`${api}/minio/v2/metrics/node`)).text();
  const failures = /cairn_console_logins_total\{result="failure"[^}]*\} (\d+)/.exec(metrics);
  assert.ok(failures && Number(failures[1]) >= 13, `failed logins are counted: ${failures?.[0]}`);
  await context.close();
});

test("behind a reverse proxy the console works under a path prefix", { timeout: 60_000 }, async () => {
  // A proxy that keeps the prefix sends /cairn/...; the console's links carry it too.
  const { console: base } = await startServer("prefixed", { CAIRN_BROWSER_REDIRECT_URL: "http://proxy.test/cairn/" });
  assert.match(base, /\/cairn$/, "the printed console URL carries the prefix");
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/buckets`);
  assert.match(page.url(), /\/cairn\/login\?next=%2Fcairn%2Fbuckets/);
  await submitLogin(page, ROOT, ROOT_SECRET);
  assert.match(page.url(), /\/cairn\/buckets$/);
  await page.fill("#bucket-name", "behind-proxy");
  await Promise.all([page.waitForNavigation(), page.click("text=Create bucket")]);
  assert.match(await page.textContent(".notice"), /behind-proxy created/);
  await Promise.all([page.waitForNavigation(), page.click("a:text-is('behind-proxy')")]);
  assert.match(page.url(), /\/cairn\/browse\/behind-proxy/);
  const styles = await page.evaluate(() => getComputedStyle(document.querySelector("header.top")).display);
  assert.equal(styles, "flex", "the stylesheet loads from under the prefix");
  const [cookie] = (await context.cookies()).filter((c) => c.name === "cairn_session");
  assert.equal(cookie.path, "/cairn");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  await context.close();
});

/** A PUT of `text` to `url` by a script of `page`: "<status> etag|no-etag", or "blocked" when the browser refuses it. */
function putFrom(page, url, text) {
  return page.evaluate(async ({ target, text }) => {
    try {
      const response = await fetch(target, { method: "PUT", body: text });
      return `${response.status} ${response.headers.get("etag") ? "etag" : "no-etag"}`;
    } catch {
      return "blocked";
    }
  }, { target: url, text });
}

/** The fields of a browser form upload to `bucket`/`key`, with a POST policy signed (SigV4) by root. */
function signedForm(bucket, key) {
  const now = new Date();
  const date = now.toISOString().slice(0, 10).replace(/-/g, "");
  const amzDate = `${date}T${now.toISOString().slice(11, 19).replace(/:/g, "")}Z`;
  const credential = `${ROOT}/${date}/us-east-1/s3/aws4_request`;
  const document = {
    expiration: new Date(Date.now() + 600_000).toISOString(),
    conditions: [{ bucket }, { key }, { "x-amz-algorithm": "AWS4-HMAC-SHA256" }, { "x-amz-credential": credential },
      { "x-amz-date": amzDate }, ["content-length-range", 1, 1 << 20]],
  };
  const policy = Buffer.from(JSON.stringify(document)).toString("base64");
  const hmac = (secret, data) => createHmac("sha256", secret).update(data).digest();
  const signingKey = ["us-east-1", "s3", "aws4_request"].reduce(hmac, hmac(`AWS4${ROOT_SECRET}`, date));
  const signature = createHmac("sha256", signingKey).update(policy).digest("hex");
  return { key, "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": credential, "x-amz-date": amzDate, policy, "x-amz-signature": signature };
}

test("a page on another origin uploads (presigned PUT and POST policy) only when the bucket's CORS allows it", { timeout: 90_000 }, async () => {
  const { api, console: consoleUrl } = await startServer("cors");
  const keys = { access: ROOT, secret: ROOT_SECRET };
  await cli(api, keys, "mb", "t/crm-uploads");
  // The CRM application's page, served from another origin (another port).
  const site = createServer((_, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>CRM</title><p>CRM</p>");
  });
  await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${site.address().port}`;
  const rules = join(work, "cors.json");
  const setRules = async (allowed) => {
    writeFileSync(rules, JSON.stringify({ CORSRules: [{ AllowedOrigins: [allowed], AllowedMethods: ["PUT", "POST"], AllowedHeaders: ["*"], ExposeHeaders: ["ETag"] }] }));
    await cli(api, keys, "cors", "set", "t/crm-uploads", rules);
  };
  const context = await browser.newContext();
  try {
    const shared = await cli(api, keys, "--json", "share", "upload", "t/crm-uploads/from-browser.txt");
    const url = JSON.parse(shared.stdout.trim().split("\n").pop()).url;
    const page = await context.newPage();
    await page.goto(origin);
    const upload = () => putFrom(page, url, "from the CRM page");
    // The form is a "simple" request (no preflight): the browser sends it and lets the
    // page read the answer only if the bucket's CORS allows the page's origin, as on S3.
    const postUpload = (key, text) =>
      page.evaluate(async ({ target, fields, text }) => {
        const form = new FormData();
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        form.append("file", new Blob([text], { type: "text/plain" }), "note.txt");
        try {
          const response = await fetch(target, { method: "POST", body: form });
          return `${response.status} ${response.headers.get("etag") ? "etag" : "no-etag"}`;
        } catch {
          return "blocked";
        }
      }, { target: `${api}/crm-uploads`, fields: signedForm("crm-uploads", key), text });
    assert.equal(await upload(), "blocked", "without CORS rules the browser refuses the upload");
    assert.equal(await postUpload("posted-0.txt", "x"), "blocked", "and the form upload's answer");
    // The node's own console is another origin too (its port), and needs no rule. (The
    // console's pages forbid scripts from calling other origins; CSP is bypassed here to
    // test CORS alone.)
    const consoleContext = await browser.newContext({ bypassCSP: true });
    try {
      const consolePage = await consoleContext.newPage();
      await consolePage.goto(`${consoleUrl}/login`);
      const fromConsole = await putFrom(consolePage, url, "from the console");
      assert.equal(fromConsole, "200 etag", "the console's own origin is allowed without a CORS rule");
    } finally {
      await consoleContext.close();
    }
    await setRules(origin);
    assert.equal(await upload(), "200 etag", "the bucket's rule allows the page's origin (and exposes ETag)");
    const stored = await cli(api, keys, "cat", "t/crm-uploads/from-browser.txt");
    assert.equal(stored.stdout, "from the CRM page");
    assert.equal(await postUpload("posted.txt", "posted from the CRM page"), "204 etag", "a POST-policy upload is allowed too");
    const posted = await cli(api, keys, "cat", "t/crm-uploads/posted.txt");
    assert.equal(posted.stdout, "posted from the CRM page");
    await setRules("https://other.example");
    assert.equal(await upload(), "blocked", "a rule for another origin does not let this page in");
    assert.equal(await postUpload("posted-2.txt", "y"), "blocked", "nor its form uploads");
  } finally {
    await context.close();
    site.close();
  }
});
