// The VS Code client of `scn lsp`: starts the language server and hands it the .scn
// files and the templates (.html, .txt) of the workspace.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const settings = vscode.workspace.getConfiguration("scn.server");
  const command = settings.get("command", "scn");
  const args = ["lsp", ...settings.get("args", [])];
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "scn" },
      { scheme: "file", pattern: "**/*.{html,txt}" },
    ],
    synchronize: {
      // Files changed on disk (a template saved elsewhere, a pool replaced) are checked again,
      // and the settings (scn.toml, pyproject.toml's [tool.scn]) read again.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/{*.scn,*.html,*.txt,*.csv,scn.toml,pyproject.toml}"),
    },
  };
  client = new LanguageClient("scn", "scn", serverOptions, clientOptions);
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
