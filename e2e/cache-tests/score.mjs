// Scores cache-tests results by test kind, beside the published results of
// the reverse proxies and CDNs in the suite's `results/`.
//
//   node score.mjs SUITE_DIR [nubo.json] [--failures] [--check]
//
// SUITE_DIR is a copy of http-tests/cache-tests. Tests only a browser runs
// are left aside. Each kind is counted apart: `required` (a failure is a
// conformance problem), `optimal` (a failure is a missed chance to use the
// cache) and `check` (no right answer; "yes" counts as passed). Two ways:
//
// - as cache-tests.fyi shows them: a test whose dependency did not pass
//   does not pass either;
// - each test on its own (its own assertion passed), the count behind
//   "141 of 163".
//
// --failures lists what the given results did not pass, with the reason;
// --check exits 1 unless they pass more required tests and more tests in
// all than every published cache, both ways.

import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const PUBLISHED = ['squid', 'trafficserver', 'varnish', 'nginx', 'apache', 'haproxy', 'caddy', 'fastly']
const KINDS = ['required', 'optimal', 'check']

const args = process.argv.slice(2)
const showFailures = args.includes('--failures')
const check = args.includes('--check')
const [suiteDir, ownFile] = args.filter(arg => !arg.startsWith('--'))
if (!suiteDir) {
  console.error('usage: node score.mjs SUITE_DIR [results.json] [--failures] [--check]')
  process.exit(2)
}

const load = file => import(pathToFileURL(path.resolve(suiteDir, file)).href)
const suites = (await load('tests/index.mjs')).default
const { determineTestResult, resultTypes } = await load('test-engine/lib/results.mjs')
const passing = [resultTypes.pass, resultTypes.yes]

const tests = suites.flatMap(suite => suite.tests).filter(test => test.browser_only !== true)

function score (results, honorDependencies) {
  const counts = Object.fromEntries(KINDS.map(kind => [kind, { pass: 0, total: 0 }]))
  const failures = []
  for (const test of tests) {
    const kind = test.kind ?? 'required'
    counts[kind].total += 1
    const result = determineTestResult(suites, test.id, results, honorDependencies)
    if (passing.includes(result)) {
      counts[kind].pass += 1
    } else {
      const own = results[test.id]
      const reason = own === undefined ? 'not run' : own === true ? 'a dependency did not pass' : own.join(': ')
      failures.push({ kind, id: test.id, reason })
    }
  }
  const all = KINDS.reduce((sum, kind) => ({ pass: sum.pass + counts[kind].pass, total: sum.total + counts[kind].total }), { pass: 0, total: 0 })
  return { counts, all, failures }
}

const rows = []
if (ownFile) rows.push(['nubo', JSON.parse(await readFile(ownFile, 'utf8'))])
for (const name of PUBLISHED) {
  rows.push([name, JSON.parse(await readFile(path.join(suiteDir, 'results', `${name}.json`), 'utf8'))])
}

const cell = ({ pass, total }) => `${pass}/${total}`.padStart(10)
let beaten = true
for (const [title, honor] of [['as cache-tests.fyi counts (dependencies honoured)', true], ['each test on its own', false]]) {
  console.log(`\n${title}`)
  console.log(`${'cache'.padEnd(14)}${KINDS.map(kind => kind.padStart(10)).join('')}${'all'.padStart(10)}`)
  const scored = rows.map(([name, results]) => [name, score(results, honor)])
  for (const [name, { counts, all }] of scored) {
    console.log(`${name.padEnd(14)}${KINDS.map(kind => cell(counts[kind])).join('')}${cell(all)}`)
  }
  if (ownFile) {
    const [, own] = scored[0]
    for (const [name, other] of scored.slice(1)) {
      if (own.counts.required.pass <= other.counts.required.pass || own.all.pass <= other.all.pass) {
        beaten = false
        console.log(`  not ahead of ${name}`)
      }
    }
  }
}

if (showFailures && ownFile) {
  console.log('\nnot passed (dependencies honoured):')
  for (const { kind, id, reason } of score(rows[0][1], true).failures) {
    console.log(`${kind.padEnd(9)} ${id}  (${reason})`)
  }
}
if (check && ownFile && !beaten) process.exit(1)
