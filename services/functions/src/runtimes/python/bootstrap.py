"""nubo's bootstrap for the python runtimes: runs nubo_runtime, which is a
module rather than this script so that python finds its bytecode compiled
(nubo compiles it when it starts) instead of compiling it at every cold
start, as it does for the script it is given to run."""

import nubo_runtime

nubo_runtime.main()
