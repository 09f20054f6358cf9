// Placeholder: TicketStore is being written.
