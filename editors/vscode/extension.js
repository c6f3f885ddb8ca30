// Starts `geoc lsp` for .geo files. Highlighting needs none of this (the grammar is declared in
// package.json); the client library is only present in a packaged extension (`npm install`
// here, then `vsce package`), so without it the extension highlights and stays quiet.
const vscode = require("vscode");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("geoc.server");
  if (!config.get("enabled", true)) return;
  let lsp;
  try {
    lsp = require("vscode-languageclient/node");
  } catch {
    return; // not packaged with its dependencies: highlighting only
  }
  const [command, ...args] = config.get("command", ["geoc", "lsp"]);
  client = new lsp.LanguageClient(
    "geoc",
    "geoc language server",
    { command, args, transport: lsp.TransportKind.stdio },
    { documentSelector: [{ scheme: "file", language: "geo" }] },
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
