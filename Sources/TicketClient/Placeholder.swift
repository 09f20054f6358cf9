// Placeholder: TicketClient is being written.
