// Load on npu-server: N streams, each sending streamed chats back to back
// for a fixed time, then the figures: time to first token (p50, p99),
// tokens/s per stream and in all, errors, and the server's resident memory
// (its /metrics) before and after. Node 20's fetch alone: no packages.
// usage: node server-bench.mjs BASE_URL [--streams N] [--seconds S]
//        [--max-tokens M] [--tier-low K] [--warmup W]
//   --warmup W: seconds of the same load first, not counted (default 5),
//   so the memory figures compare the steady state, not the first use.
//   --tier-low K: K of the streams ask for service_tier "flex" (the NPU's
//   low priority); their tokens/s is shown apart.
// Exits 1 when a request failed or a stream got no token.
const args = process.argv.slice(2);
const base = args.shift()?.replace(/\/$/, "");
const opt = { streams: 4, seconds: 30, "max-tokens": 64, "tier-low": 0, warmup: 5 };
for (let i = 0; i < args.length; i += 2) {
	const name = args[i]?.replace(/^--/, "");
	const v = Number(args[i + 1]);
	if (!(name in opt) || !Number.isInteger(v) || v < 0) {
		console.error(`server-bench: bad option '${args[i]} ${args[i + 1] ?? ""}'`);
		process.exit(2);
	}
	opt[name] = v;
}
if (!base || opt.streams < 1 || opt["tier-low"] > opt.streams) {
	console.error("usage: node server-bench.mjs BASE_URL [--streams N] [--seconds S] " +
		"[--max-tokens M] [--tier-low K] [--warmup W]");
	process.exit(2);
}

const prompts = ["Tell me a story about a cat.", "What did the little bird find?",
	"Tell me about a big red ball.", "Why was the boy sad?"];

async function rss() {
	const text = await (await fetch(`${base}/metrics`)).text();
	const m = text.match(/^process_resident_memory_bytes (\d+)$/m);
	return m ? Number(m[1]) : NaN;
}

// One streamed chat: its time to the first text, its tokens, or an error.
async function chat(stream, n) {
	const t0 = performance.now();
	const res = await fetch(`${base}/v1/chat/completions`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify({
			messages: [{ role: "user", content: prompts[(stream + n) % prompts.length] }],
			max_tokens: opt["max-tokens"], temperature: 0.8, seed: stream * 1000 + n,
			stream: true, service_tier: stream < opt["tier-low"] ? "flex" : "default",
		}),
	});
	if (res.status !== 200)
		return { error: `status ${res.status}: ${(await res.text()).slice(0, 120)}` };
	let ttft = null;
	let tokens = 0;
	let buf = "";
	const decoder = new TextDecoder();
	for await (const chunk of res.body) {
		buf += decoder.decode(chunk, { stream: true });
		let at;
		while ((at = buf.indexOf("\n\n")) >= 0) {
			const event = buf.slice(0, at).replace(/^data: /, "");
			buf = buf.slice(at + 2);
			if (event === "[DONE]")
				continue;
			const o = JSON.parse(event);
			if (o.error)
				return { error: o.error.message };
			if (ttft === null && o.choices?.[0]?.delta?.content)
				ttft = performance.now() - t0;
			tokens = o.usage?.completion_tokens ?? tokens;
		}
	}
	return { ttft, tokens, ms: performance.now() - t0 };
}

function pct(sorted, p) {
	return sorted.length ? sorted[Math.min(sorted.length - 1,
		Math.floor(p / 100 * sorted.length))] : NaN;
}

// N streams of chats back to back for @seconds: each stream's figures.
function load(seconds) {
	const end = performance.now() + seconds * 1000;
	return Promise.all([...Array(opt.streams).keys()].map(async (s) => {
		const st = { ttft: [], tokens: 0, errors: [], requests: 0 };
		for (let n = 0; st.requests === 0 || performance.now() < end; n++) {
			let r;
			try {
				r = await chat(s, n);
			} catch (e) {
				r = { error: `${e?.constructor?.name}: ${e?.message}` };
			}
			st.requests++;
			if (r.error) {
				st.errors.push(r.error);
				continue;
			}
			if (r.ttft !== null)
				st.ttft.push(r.ttft);
			st.tokens += r.tokens;
		}
		return st;
	}));
}

const warm = await load(opt.warmup);
const before = await rss();
const t0 = performance.now();
const streams = await load(opt.seconds);
const secs = (performance.now() - t0) / 1000;
const after = await rss();

const ttft = streams.flatMap((s) => s.ttft).sort((a, b) => a - b);
const tokens = streams.reduce((a, s) => a + s.tokens, 0);
const errors = [...warm, ...streams].flatMap((s) => s.errors);
const perStream = streams.map((s) => s.tokens / secs);
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const f1 = (x) => x.toFixed(1);
console.log(`server-bench: ${base}, ${opt.streams} streams, ${f1(secs)} s after ` +
	`${opt.warmup} s of warm-up, max_tokens ${opt["max-tokens"]}`);
console.log(`requests ${streams.reduce((a, s) => a + s.requests, 0)}, errors ${errors.length} ` +
	`(the warm-up's counted too)`);
console.log(`time to first token: p50 ${f1(pct(ttft, 50))} ms, p99 ${f1(pct(ttft, 99))} ms`);
console.log(`tokens/s: total ${f1(tokens / secs)}, per stream ${perStream.map(f1).join(" ")}`);
if (opt["tier-low"] > 0 && opt["tier-low"] < opt.streams)
	console.log(`tokens/s per stream by tier: flex (low) ` +
		`${f1(mean(perStream.slice(0, opt["tier-low"])))}, default ` +
		`${f1(mean(perStream.slice(opt["tier-low"])))}`);
console.log(`server resident memory: before ${f1(before / 2 ** 20)} MiB, after ` +
	`${f1(after / 2 ** 20)} MiB (${after >= before ? "+" : ""}` +
	`${f1((after - before) / 2 ** 10)} KiB)`);
for (const e of errors.slice(0, 5))
	console.log(`error: ${e}`);
process.exit(errors.length || streams.some((s) => !s.tokens) ? 1 : 0);
