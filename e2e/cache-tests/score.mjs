// Counts cache-tests results by test kind, the way cache-tests.fyi reads
// them (a test whose dependency fails does not pass), leaving aside tests
// only a browser runs.
//
//   node score.mjs SUITE_DIR [nubo.json] [--failures]
//
// SUITE_DIR is a copy of http-tests/cache-tests; every file in its
// `results/` is scored next to the given results file.

import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const args = process.argv.slice(2)
const showFailures = args.includes('--failures')
const [suiteDir, ownFile] = args.filter(arg => !arg.startsWith('--'))
if (!suiteDir) {
  console.error('usage: node score.mjs SUITE_DIR [results.json] [--failures]')
  process.exit(2)
}

const load = file => import(pathToFileURL(path.resolve(suiteDir, file)).href)
const suites = (await load('tests/index.mjs')).default
const { determineTestResult, resultTypes } = await load('test-engine/lib/results.mjs')
const passing = [resultTypes.pass, resultTypes.yes]

// The tests a proxy or CDN runs.
const tests = suites.flatMap(suite => suite.tests).filter(test => test.browser_only !== true)
const kinds = ['required', 'optimal', 'check']

function score (results) {
  const counts = Object.fromEntries(kinds.map(kind => [kind, { pass: 0, total: 0 }]))
  const failures = []
  for (const test of tests) {
    const kind = test.kind ?? 'required'
    counts[kind].total += 1
    if (passing.includes(determineTestResult(suites, test.id, results))) {
      counts[kind].pass += 1
    } else {
      failures.push(`${kind}\t${test.id}`)
    }
  }
  const all = kinds.reduce((sum, kind) => ({ pass: sum.pass + counts[kind].pass, total: sum.total + counts[kind].total }), { pass: 0, total: 0 })
  return { counts, all, failures }
}

const rows = []
if (ownFile) {
  rows.push(['nubo', JSON.parse(await readFile(ownFile, 'utf8'))])
}
const resultsDir = path.join(suiteDir, 'results')
for (const file of (await readdir(resultsDir)).filter(name => name.endsWith('.json')).sort()) {
  rows.push([path.basename(file, '.json'), JSON.parse(await readFile(path.join(resultsDir, file), 'utf8'))])
}

const cell = ({ pass, total }) => `${pass}/${total}`.padStart(9)
console.log(`${'cache'.padEnd(14)}${kinds.map(kind => kind.padStart(9)).join('')}${'all'.padStart(9)}`)
for (const [name, results] of rows) {
  const { counts, all } = score(results)
  console.log(`${name.padEnd(14)}${kinds.map(kind => cell(counts[kind])).join('')}${cell(all)}`)
}
if (showFailures && ownFile) {
  console.log('\nnot passed:')
  for (const line of score(rows[0][1]).failures) console.log(line)
}
