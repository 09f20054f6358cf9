import TicketWire

/// What finally came of a grant or revoke request.
public enum CommandResult: Sendable, Equatable {
    /// The daemon reports success. `commitPending`: a grant whose commit to the cluster
    /// (Pacemaker's CIB) is still delayed (booth's `RLT_CIB_PENDING` without `-C`).
    case succeeded(commitPending: Bool)
    /// boothd accepted the request and will not say how it ends (`RLT_ASYNC`).
    case asynchronous
    /// Interim replies kept coming and the user did not ask to wait (booth's rule: the client
    /// gives up when a third interim reply arrives without `--wait`).
    case gaveUpWaiting
    /// Grant of a ticket that is granted already (`RLT_OVERGRANT`).
    case overgrant
    /// Revoke of a ticket that no one holds (`RLT_TICKET_IDLE`).
    case notOwned
    /// The election or revoke failed (`RLT_SYNC_FAIL`).
    case failed
    /// The daemon does not know the ticket (`RLT_INVALID_ARG`).
    case unknownTicket
    /// The daemon refused the request's authentication (`RLT_AUTH`).
    case authenticationRejected
    /// The ticket's before-acquire-handler failed (`RLT_EXT_FAILED`).
    case handlerFailed
    /// An attr-prereq of the ticket does not hold (`RLT_ATTR_PREREQ`).
    case attributePrerequisiteFailed
    /// A redirect named a site id that is not in the configuration, or "no one".
    case redirectToUnknownSite(UInt32)
    /// Redirects kept coming (``CommandConversation/maximumRedirects``).
    case tooManyRedirects
    /// A result code this client does not expect here.
    case unexpected(BoothResult)
}

/// The grant/revoke exchange of Booth's client (`do_command`) as a pure state machine: the
/// shell sends the request, feeds every reply to ``onReply(result:ticket:)`` and does what
/// the returned action says.
///
/// Invariants: after `.finish` no further reply is accepted; `interimReplies` counts the
/// `RLT_MORE` (and, with `waitCommit`, `RLT_CIB_PENDING`) replies on the current connection.
public struct CommandConversation: Sendable {
    /// The most redirects followed before giving up (booth follows them without limit).
    public static let maximumRedirects = 4

    public enum Action: Sendable, Equatable {
        /// Keep the connection and read the next reply. `notice` is set when the user should
        /// be told (booth's "grant request sent, waiting for the result ...").
        case readNextReply(notice: Notice?)
        /// Close this connection, connect to `address` and send the request again.
        case redirect(to: String, siteID: UInt32)
        /// Done; close the connection.
        case finish(CommandResult)
    }

    public enum Notice: Sendable, Equatable {
        case requestSent
        case waitingForCommit
    }

    public let command: BoothCommand
    public let options: BoothClientOptions
    /// Site id to member address, for redirects.
    public let addressesBySiteID: [UInt32: String]
    public private(set) var interimReplies = 0
    public private(set) var redirects = 0
    private var noticesGiven = 0
    private var finished = false

    public init(command: BoothCommand, options: BoothClientOptions, addressesBySiteID: [UInt32: String]) {
        precondition(command == .grant || command == .revoke, "Conversation is for grant and revoke, not \(command)")
        self.command = command
        self.options = options
        self.addressesBySiteID = addressesBySiteID
    }

    /// The next thing to do after a reply with this result (and ticket payload, which carries
    /// the leader's site id in a redirect).
    public mutating func onReply(result: BoothResult, ticket: BoothTicketPayload?) -> Action {
        precondition(!finished, "Internal inconsistency: reply \(result) after the conversation finished")
        let interim: Bool
        switch result {
        case .more:
            interim = true
        case .cibPending:
            interim = options.contains(.waitCommit)
            if !interim { return finish(.succeeded(commitPending: true)) }
        case .success, .syncSuccess:
            return finish(.succeeded(commitPending: false))
        case .redirect:
            redirects += 1
            guard redirects <= Self.maximumRedirects else { return finish(.tooManyRedirects) }
            let leader = ticket?.leader ?? BoothWire.noOne
            guard let address = addressesBySiteID[leader] else { return finish(.redirectToUnknownSite(leader)) }
            interimReplies = 0
            return .redirect(to: address, siteID: leader)
        case .async: return finish(.asynchronous)
        case .overgrant: return finish(.overgrant)
        case .ticketIdle: return finish(.notOwned)
        case .syncFail: return finish(.failed)
        case .invalidArgument: return finish(.unknownTicket)
        case .authentication: return finish(.authenticationRejected)
        case .externalProgramFailed: return finish(.handlerFailed)
        case .attributePrerequisite: return finish(.attributePrerequisiteFailed)
        default: return finish(.unexpected(result))
        }
        precondition(interim, "Internal inconsistency: \(result) reached the interim path")
        // booth: `if (reply_cnt > 1 && !(cl.options & OPT_WAIT))` give up, else count it.
        if interimReplies > 1 && !options.contains(.wait) { return finish(.gaveUpWaiting) }
        var notice: Notice?
        if interimReplies == 0 {
            notice = .requestSent
            noticesGiven += 1
        } else if result == .cibPending && noticesGiven < 2 {
            notice = .waitingForCommit
            noticesGiven += 1
        }
        interimReplies += 1
        return .readNextReply(notice: notice)
    }

    private mutating func finish(_ result: CommandResult) -> Action {
        finished = true
        return .finish(result)
    }
}
