// The process-test helpers (Products, Repository, HarnessError, runProgram) for every file here.
@_exported import ProcessTestSupport
