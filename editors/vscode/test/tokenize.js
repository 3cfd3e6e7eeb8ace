// Tokenise texts with the extension's TextMate grammar, as VS Code does (vscode-textmate
// over the Oniguruma regular expressions of vscode-oniguruma).
//
// stdin: {"texts": {"name": "source text", ...}, "theme": optional raw theme}
// stdout: {"name": [[{"text": ..., "scopes": [...]}, ...one list per line], ...}
//
// With a theme (vscode-textmate's raw format: {"settings": [{"scope": ..., "settings":
// {"foreground": ...}}]}), each token also has the "foreground" colour and the
// "fontStyle" (1 italic, 2 bold, 4 underline, 8 strikethrough) VS Code gives it: the
// theme is matched against the scopes by vscode-textmate itself.
"use strict";

const fs = require("fs");
const path = require("path");
const textmate = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const GRAMMAR = path.join(__dirname, "..", "syntaxes", "scn.tmLanguage.json");

// The fields of a token's metadata from tokenizeLine2 (vscode-textmate's EncodedTokenAttributes).
const FONT_STYLE_MASK = 0b00000000000000000111100000000000;
const FOREGROUND_MASK = 0b00000000111111111000000000000000;
const FONT_STYLE_OFFSET = 11;
const FOREGROUND_OFFSET = 15;

let registry;

async function grammar() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  registry = new textmate.Registry({
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

function tokenise(scn, text, colours) {
  let stack = textmate.INITIAL;
  return text.split("\n").map((line) => {
    const result = scn.tokenizeLine(line, stack);
    const styled = colours ? scn.tokenizeLine2(line, stack).tokens : null;
    stack = result.ruleStack;
    return result.tokens.map((t) => {
      const token = { text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes };
      if (styled) {
        let i = 0; // the styled token (start, metadata pairs) that covers this one's start
        while (i + 2 < styled.length && styled[i + 2] <= t.startIndex) i += 2;
        const metadata = styled[i + 1];
        token.foreground = colours[(metadata & FOREGROUND_MASK) >>> FOREGROUND_OFFSET];
        token.fontStyle = (metadata & FONT_STYLE_MASK) >>> FONT_STYLE_OFFSET;
      }
      return token;
    });
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
  let colours = null;
  if (input.theme) {
    registry.setTheme(input.theme);
    colours = registry.getColorMap();
  }
  const output = {};
  for (const [name, text] of Object.entries(input.texts)) output[name] = tokenise(scn, text, colours);
  process.stdout.write(JSON.stringify(output));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
