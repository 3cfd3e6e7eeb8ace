// Tokenise texts with the extension's TextMate grammar, as VS Code does (vscode-textmate
// over the Oniguruma regular expressions of vscode-oniguruma).
//
// stdin: {"texts": {"name": "source text", ...}}
// stdout: {"name": [[{"text": ..., "scopes": [...]}, ...one list per line], ...}
"use strict";

const fs = require("fs");
const path = require("path");
const textmate = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const GRAMMAR = path.join(__dirname, "..", "syntaxes", "scn.tmLanguage.json");

async function grammar() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === "source.scn"
        ? textmate.parseRawGrammar(fs.readFileSync(GRAMMAR, "utf8"), GRAMMAR)
        : null,
  });
  return registry.loadGrammar("source.scn");
}

function tokenise(scn, text) {
  let stack = textmate.INITIAL;
  return text.split("\n").map((line) => {
    const result = scn.tokenizeLine(line, stack);
    stack = result.ruleStack;
    return result.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
  });
}

async function main() {
  const scn = await grammar();
  if (process.argv.includes("--self-test")) {
    const [[first]] = tokenise(scn, "wait 30m");
    if (!first.scopes.includes("keyword.control.scn")) throw new Error("`wait` is not a keyword");
    console.log("1 passed, 0 failed");
    return;
  }
  const input = JSON.parse(fs.readFileSync(0, "utf8"));
  const output = {};
  for (const [name, text] of Object.entries(input.texts)) output[name] = tokenise(scn, text);
  process.stdout.write(JSON.stringify(output));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
