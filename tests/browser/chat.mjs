// SPDX-License-Identifier: MIT
// The chat page in headless chromium (playwright-core): npu-server serves
// stories260K.gguf with the chatml template on a free port; the page must
// load with no request off this server, stream a reply to a first message,
// show the speed and the device, then keep both turns through a second.
// Prints PASS/FAIL lines; exits 1 if anything failed.
// usage: node chat.mjs SERVER MODEL CHROMIUM SCREENSHOT
// (playwright-core is found through NODE_PATH.)
import { spawn } from "node:child_process";
import { createRequire } from "node:module";

const [server, model, chromiumPath, shot] = process.argv.slice(2);
const { chromium } = createRequire(import.meta.url)("playwright-core");
const limit = Number(process.env.NPU_BROWSER_TIMEOUT || 60) * 1000;
let failed = 0;

function check(name, ok, why) {
	console.log(ok ? `PASS ${name}` : `FAIL ${name}: ${why}`);
	if (!ok)
		failed++;
	return ok;
}

// Until fn() is truthy, polled, or null after the time limit.
async function until(fn) {
	const end = Date.now() + limit;
	for (;;) {
		const v = await fn();
		if (v)
			return v;
		if (Date.now() > end)
			return null;
		await new Promise((r) => setTimeout(r, 100));
	}
}

// The server, and its port from its "listening on http://HOST:PORT" line.
const srv = spawn(server, ["--model", model, "--device", "cpu", "--port", "0",
	"--chat-template", "chatml"], { stdio: ["ignore", "inherit", "pipe"] });
let err = "";
srv.stderr.on("data", (d) => { err += d; });
const exited = new Promise((r) => srv.on("exit", (code, sig) => r({ code, sig })));
const port = await until(() => {
	const m = err.match(/listening on http:\/\/[0-9.]+:([0-9]+)\n/);
	return m ? m[1] : srv.exitCode !== null ? -1 : null;
});
if (!port || port < 0) {
	console.log(`FAIL browser_server_start: ${err.trim() || "no listening line"}`);
	srv.kill("SIGTERM");
	process.exit(1);
}
const base = `http://127.0.0.1:${port}`;

let browser;
try {
	browser = await chromium.launch({ executablePath: chromiumPath,
		args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
	const page = await browser.newPage();
	const offsite = [];
	page.on("request", (r) => {
		const u = new URL(r.url());
		if (!["127.0.0.1", "localhost"].includes(u.hostname) && u.protocol !== "data:")
			offsite.push(r.url());
	});
	const pageErrors = [];
	page.on("pageerror", (e) => pageErrors.push(e.message));

	const resp = await page.goto(base + "/");
	check("browser_page_html", resp.ok() &&
	      resp.headers()["content-type"].startsWith("text/html"),
	      `GET / gave ${resp.status()} ${resp.headers()["content-type"]}`);
	const info = await until(async () => {
		const t = await page.textContent("#info");
		return t.includes(" on cpu") ? t : null;
	});
	check("browser_model_device", info, `the header says "${await page.textContent("#info")}"`);

	// One turn: the reply streams in, then the speed line with the device.
	async function turn(text, n) {
		await page.fill("#input", text);
		await page.click("#send");
		const state = await until(() => page.evaluate((n) => {
			const a = document.querySelectorAll(".msg.assistant, .msg.error")[n];
			return a && a.dataset.state !== "streaming" ? a.dataset.state : null;
		}, n));
		const reply = await page.evaluate((n) => {
			const a = document.querySelectorAll(".msg.assistant")[n];
			return a ? a.textContent : "";
		}, n);
		check(`browser_turn${n + 1}_streamed`, state === "done" && reply.trim().length > 0,
		      `state ${state}, reply "${reply}"`);
		const speed = await page.textContent("#speed");
		check(`browser_turn${n + 1}_speed`,
		      /^[1-9][0-9]* tokens in [0-9.]+ s: [0-9.]+ tokens\/s on cpu$/.test(speed),
		      `the speed line says "${speed}"`);
	}
	await turn("Tell me a <b>story</b> about a cat.", 0);
	// Typed markup stays text.
	check("browser_text_escaped", await page.evaluate(() =>
		!document.querySelector("#log b") &&
		document.querySelector(".msg.user").textContent.includes("<b>story</b>")),
	      "the user's <b> became an element");
	await turn("And then what did the dog do?", 1);
	const roles = await page.evaluate(() =>
		[...document.querySelectorAll("#log .msg")].map((m) => m.className).join(","));
	check("browser_history_two_turns",
	      roles === "msg user,msg assistant,msg user,msg assistant", `the log holds ${roles}`);
	// The second request carried the whole conversation: the page's messages array.
	const sent = await page.evaluate(() => messages.map((m) => m.role).join(","));
	check("browser_messages_kept", sent === "user,assistant,user,assistant",
	      `messages holds ${sent}`);
	check("browser_no_offsite_requests", offsite.length === 0, offsite.join(" "));
	check("browser_no_page_errors", pageErrors.length === 0, pageErrors.join("; "));
	await page.screenshot({ path: shot, fullPage: true });
	console.log(`browser: screenshot in ${shot}`);
} catch (e) {
	check("browser_run", false, e.message.split("\n")[0]);
} finally {
	if (browser)
		await browser.close();
	srv.kill("SIGTERM");
	const { code, sig } = await exited;
	check("browser_server_sigterm", code === 0, `exited with ${code ?? sig}: ${err.trim()}`);
}
process.exit(failed ? 1 : 0);
