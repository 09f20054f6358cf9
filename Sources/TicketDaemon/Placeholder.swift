// Placeholder: TicketDaemon is being written.
