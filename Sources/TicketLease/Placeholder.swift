// Placeholder: TicketLease is being written.
