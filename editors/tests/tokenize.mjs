// Tokenize .geo files with the TextMate grammar, as VS Code does (vscode-textmate running on
// vscode-oniguruma), and print one JSON report: per file, the spans no rule matched.
//
// usage: node tokenize.mjs GRAMMAR.json FILE.geo... [--dump]
// "Unmatched" (the test's definition): a non-whitespace character whose innermost scope is
// the grammar's root scope `source.geo` or an `invalid.*` scope (the grammar's catch-all).
// --dump also prints every token (text and scopes), for the spot checks.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const vsctm = require("vscode-textmate");
const onig = require("vscode-oniguruma");

const args = process.argv.slice(2);
const dump = args.includes("--dump");
const [grammarPath, ...files] = args.filter((a) => a !== "--dump");

const wasm = fs.readFileSync(path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm"));
const onigLib = onig.loadWASM(wasm.buffer).then(() => ({
  createOnigScanner: (patterns) => new onig.OnigScanner(patterns),
  createOnigString: (text) => new onig.OnigString(text),
}));
const registry = new vsctm.Registry({
  onigLib,
  loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath),
});
const grammar = await registry.loadGrammar("source.geo");

const report = {};
for (const file of files) {
  const lines = fs.readFileSync(file, "utf8").split(/\r?\n/);
  const unmatched = [];
  const tokens = [];
  let stack = vsctm.INITIAL;
  lines.forEach((line, row) => {
    const result = grammar.tokenizeLine(line, stack);
    for (const token of result.tokens) {
      const text = line.slice(token.startIndex, token.endIndex);
      const inner = token.scopes[token.scopes.length - 1];
      if (dump) tokens.push({ line: row + 1, text, scopes: token.scopes.slice(1) });
      if (/\S/.test(text) && (inner === "source.geo" || inner.startsWith("invalid."))) {
        unmatched.push({ line: row + 1, col: token.startIndex + 1, text: text.trim(), scope: inner });
      }
    }
    stack = result.ruleStack;
  });
  report[file] = dump ? { unmatched, tokens } : { unmatched };
}
process.stdout.write(JSON.stringify(report));
