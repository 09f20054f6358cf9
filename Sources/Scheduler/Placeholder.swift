// Scheduler: being written (issue 3).
