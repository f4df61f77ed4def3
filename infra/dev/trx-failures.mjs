// Prints each failed test of the given TRX files with its message and the top
// of its stack trace, so the end of a CI log says what failed and why.
// Usage: node trx-failures.mjs file.trx...
import { readFileSync } from "node:fs";

const unescape = (s) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
   .replace(/&apos;/g, "'").replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
   .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d))).replace(/&amp;/g, "&");
const firstLines = (s, n) => s.split(/\r?\n/).slice(0, n).map((l) => "      " + l).join("\n");
const inner = (xml, tag) => (xml.match(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`)) ?? [])[1] ?? "";

for (const file of process.argv.slice(2)) {
  const xml = readFileSync(file, "utf8");
  for (const m of xml.matchAll(/<UnitTestResult\b([^>]*?)(?:\/>|>([\s\S]*?)<\/UnitTestResult>)/g)) {
    const attrs = m[1];
    const outcome = (attrs.match(/outcome="([^"]*)"/) ?? [])[1];
    if (outcome === "Passed" || outcome === "NotExecuted") continue;
    const name = unescape((attrs.match(/testName="([^"]*)"/) ?? [])[1] ?? "?");
    const duration = (attrs.match(/duration="([^"]*)"/) ?? [])[1] ?? "?";
    console.log(`  ${outcome.toUpperCase()} ${name} (${duration})`);
    const body = m[2] ?? "";
    const message = unescape(inner(body, "Message")).trim();
    const stack = unescape(inner(body, "StackTrace")).trim();
    if (message) console.log(firstLines(message, 20));
    if (stack) console.log(firstLines(stack, 10));
  }
}
