/// Everything that can go wrong, each with the text an administrator reads: what happened,
/// where, and (through `fix`) what to do.
public enum DNSError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidName(String, String)
    case invalidAddress(String)
    case malformed(String)
    case keyFile(path: String, line: Int, String)
    case invalidKey(String)
    /// No answer from `server` after the attempts; the last system error if any.
    case unreachable(server: String, String)
    /// The answer's TSIG is missing or does not verify with our key.
    case responseNotAuthentic(server: String, String)
    /// The server's TSIG verdict on our request (BADSIG, BADKEY, BADTIME, ...).
    case tsigRejected(server: String, key: String, error: DNSRcode)
    /// The server's RCODE for an update or a query.
    case rejected(server: String, rcode: DNSRcode, String)
    case noZone(name: String, server: String)

    public var description: String {
        switch self {
        case .invalidName(let name, let why): "invalid DNS name '\(name)': \(why)"
        case .invalidAddress(let text): "'\(text)' is not an IPv4 or IPv6 address"
        case .malformed(let why): "malformed DNS message: \(why)"
        case .keyFile(let path, let line, let why): "\(path):\(line): \(why)"
        case .invalidKey(let why): "invalid TSIG key: \(why)"
        case .unreachable(let server, let why): "no answer from DNS server \(server): \(why)"
        case .responseNotAuthentic(let server, let why): "the answer from \(server) is not authentic: \(why)"
        case .tsigRejected(let server, let key, let error): "\(server) refused the update's signature: TSIG \(error) for key \(key)"
        case .rejected(let server, let rcode, let what): "\(server) answered \(rcode) to \(what)"
        case .noZone(let name, let server): "\(server) is not authoritative for any zone containing \(name)"
        }
    }

    /// What the administrator should do next.
    public var fix: String {
        switch self {
        case .invalidName: "write the name as labels of letters, digits and hyphens separated by dots, e.g. www.example.com"
        case .invalidAddress: "give addresses as 192.0.2.10 or 2001:db8::10"
        case .malformed: "check that the server is a DNS server (port 53) and not something else on that port"
        case .keyFile: "use a key file as written by `tsig-keygen -a hmac-sha256 NAME`: key \"NAME\" { algorithm hmac-sha256; secret \"BASE64\"; };"
        case .invalidKey: "generate a key with `tsig-keygen -a hmac-sha256 NAME` and give the same file to the server and to Meridian"
        case .unreachable: "check the server address and port, that named runs and listens there, and firewalls between"
        case .responseNotAuthentic: "the reply may be forged or the server uses a different key: check the key on both sides"
        case .tsigRejected(_, _, let error):
            switch error {
            case .badTime: "the clocks of this node and the DNS server differ by more than the fudge (300 s): fix NTP"
            case .badKey: "the server does not know this key name or algorithm: add the key to named.conf (key \"NAME\" { ... };)"
            default: "the secret differs from the server's: use the same key file on both sides"
            }
        case .rejected(_, let rcode, _):
            switch rcode {
            case .refused: "allow the key to update the name: update-policy { grant KEY name NAME A AAAA; }; in the zone"
            case .notAuth: "send the update to a primary (master) server of the zone, with a key it knows"
            case .notZone: "the name is not inside the given zone: correct --zone or leave it out to look it up"
            case .servFail: "see the DNS server's log (journal or named's log file)"
            default: "see the DNS server's log"
            }
        case .noZone: "give --zone, or send to the zone's primary server"
        }
    }
}
