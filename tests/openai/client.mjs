// The official openai client against npu-server (run by tests/openai-check.sh):
// the model list, completions and chats, whole and streamed, errors, and
// several streams at once. One PASS or FAIL line a check.
// usage: node client.mjs BASE_URL WANT_JSON [PREFIX]
//   WANT_JSON: {prompt, steps, greedy, sampled: {temperature, top_p, seed, text}},
//   the texts npu-run gave (prompt and generated).
//   PREFIX: the checks' names begin with it (default "openai_").
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const [baseURL, wantFile, prefix = "openai_"] = process.argv.slice(2);
const want = JSON.parse(readFileSync(wantFile, "utf8"));
// No retries: a 503 or a dropped connection must show, not be hidden.
const client = new OpenAI({ baseURL, apiKey: "none", maxRetries: 0, timeout: 60000 });
let failed = 0;

// check(name, fn): PASS when fn returns "" (or nothing), else FAIL with its reason.
async function check(name, fn) {
	let why;
	try {
		why = await fn();
	} catch (e) {
		why = `threw ${e?.constructor?.name}: ${e?.message}`;
	}
	if (why) {
		failed++;
		console.log(`FAIL ${prefix}${name}: ${why}`);
	} else {
		console.log(`PASS ${prefix}${name}`);
	}
}

const show = (s) => JSON.stringify(s);
const ended = (r) => (r === "stop" || r === "length" ? "" : `finish_reason ${show(r)}`);

let model;
await check("models_list", async () => {
	const ids = [];
	for await (const m of client.models.list())
		ids.push(m.id);
	model = ids[0];
	return ids.length === 1 && model === "stories260K.gguf" ? "" : `models ${show(ids)}`;
});
model ??= "stories260K.gguf";

// A completion, whole or streamed: its text and finish_reason.
async function complete(params, stream) {
	const req = { model, prompt: want.prompt, max_tokens: want.steps, ...params };
	if (!stream) {
		const r = await client.completions.create(req);
		if (r.object !== "text_completion" || r.choices.length !== 1)
			throw new Error(`not a completion: ${show(r).slice(0, 200)}`);
		const c = r.choices[0];
		return { text: c.text, finish: c.finish_reason, usage: r.usage };
	}
	let text = "";
	let finish = null;
	for await (const c of await client.completions.create({ ...req, stream: true })) {
		text += c.choices[0]?.text ?? "";
		finish = c.choices[0]?.finish_reason ?? finish;
	}
	return { text, finish };
}

// Compare a completion with npu-run's text for the same settings.
function sameAsRun(got, runText) {
	if (!runText)
		return "npu-run gave no text";
	if (want.prompt + got.text !== runText)
		return `${show(want.prompt + got.text)} is not npu-run's ${show(runText)}`;
	return ended(got.finish);
}

const greedy = { temperature: 0 };
const s = want.sampled;
const sampled = { temperature: s.temperature, top_p: s.top_p, seed: s.seed };
await check("completion_greedy", async () => {
	const r = await complete(greedy, false);
	const u = r.usage;
	if (!u || u.completion_tokens < 1 ||
	    u.total_tokens !== u.prompt_tokens + u.completion_tokens)
		return `usage ${show(u)}`;
	return sameAsRun(r, want.greedy);
});
await check("completion_greedy_stream",
	async () => sameAsRun(await complete(greedy, true), want.greedy));
await check("completion_sampled", async () => sameAsRun(await complete(sampled, false), s.text));
await check("completion_sampled_stream",
	async () => sameAsRun(await complete(sampled, true), s.text));

// A chat, whole or streamed: the assistant's text and finish_reason.
const messages = [
	{ role: "system", content: "You tell short stories." },
	{ role: "user", content: "Tell me a story about a cat." },
];
async function chat(params, stream) {
	const req = { model, messages, max_tokens: 60, ...params };
	if (!stream) {
		const r = await client.chat.completions.create(req);
		const m = r.choices[0]?.message;
		if (r.object !== "chat.completion" || m?.role !== "assistant" ||
		    typeof m.content !== "string")
			throw new Error(`not a chat completion: ${show(r).slice(0, 200)}`);
		return { text: m.content, finish: r.choices[0].finish_reason };
	}
	let text = "";
	let finish = null;
	let role = null;
	let tier = null;
	for await (const c of await client.chat.completions.create({ ...req, stream: true })) {
		if (c.object !== "chat.completion.chunk")
			throw new Error(`not a chunk: ${show(c).slice(0, 200)}`);
		role ??= c.choices[0]?.delta?.role ?? null;
		text += c.choices[0]?.delta?.content ?? "";
		finish = c.choices[0]?.finish_reason ?? finish;
		tier = c.service_tier ?? tier;
	}
	if (role !== "assistant")
		throw new Error(`the stream's role is ${show(role)}`);
	return { text, finish, tier };
}

// npu-run has no single-turn chat to compare with: the same request twice
// must give the same text, and the stream the whole one's.
let chatGreedy = null;
for (const [name, p] of [["greedy", greedy], ["sampled", sampled]]) {
	await check(`chat_${name}`, async () => {
		const a = await chat(p, false);
		const b = await chat(p, false);
		if (!a.text)
			return "an empty answer";
		if (a.text !== b.text)
			return `not deterministic: ${show(a.text)} then ${show(b.text)}`;
		if (name === "greedy")
			chatGreedy = a.text;
		const c = await chat(p, true);
		if (c.text !== a.text)
			return `streamed ${show(c.text)}, whole ${show(a.text)}`;
		return ended(a.finish) || ended(c.finish);
	});
}

// Errors come back as the client's APIError subclasses with their status.
async function status(name, wantStatus, fn) {
	await check(name, async () => {
		try {
			await fn();
		} catch (e) {
			if (!(e instanceof OpenAI.APIError))
				return `threw ${e?.constructor?.name}: ${e?.message}`;
			if (e.status !== wantStatus)
				return `status ${e.status}, not ${wantStatus}: ${e.message}`;
			if (typeof e.error?.message !== "string")
				return `no error message: ${show(e.error)}`;
			return "";
		}
		return `no error, not ${wantStatus}`;
	});
}
await status("unknown_model_404", 404, () =>
	client.chat.completions.create({ model: "gpt-4", messages, max_tokens: 5 }));
await status("negative_max_tokens_400", 400, () =>
	client.completions.create({ model, prompt: "a", max_tokens: -1 }));
await status("unknown_model_stream_404", 404, () =>
	client.completions.create({ model: "gpt-4", prompt: "a", max_tokens: 5, stream: true }));

// 4 streamed chats at once, one of them at the NPU's low priority
// (service_tier "flex"): each the text one alone gives, each told its tier.
await check("concurrent_streams", async () => {
	if (chatGreedy === null)
		return "no greedy chat to compare with";
	const tiers = ["default", "default", "default", "flex"];
	const all = await Promise.all(tiers.map((t) => chat({ ...greedy, service_tier: t }, true)));
	const bad = all.findIndex((r, i) => r.text !== chatGreedy || ended(r.finish) ||
				  r.tier !== tiers[i]);
	if (bad < 0)
		return "";
	return `stream ${bad} (${tiers[bad]}): ${show(all[bad].text)} (${all[bad].finish}, ` +
		`tier ${show(all[bad].tier)}), alone ${show(chatGreedy)}`;
});
await status("unknown_service_tier_400", 400, () =>
	client.completions.create({ model, prompt: "a", max_tokens: 5, service_tier: "gold" }));

process.exit(failed ? 1 : 0);
