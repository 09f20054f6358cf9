import ArgumentParser
import DNSUpdate
import Foundation
import MeridianHTTP

/// `meridian dns`: point a service name at this site. RFC 2136 dynamic updates signed with
/// TSIG against the zone's authoritative server (as `nsupdate` does), checks of the
/// authoritative answer (as `dig +norecurse`), and a described HTTP request for managed DNS
/// services, sent with libcurl. The `dns-failover` agent calls these.
struct DNSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns",
        abstract: "Update and check DNS records for site failover (RFC 2136 + TSIG, or an HTTP API).",
        discussion: """
            The server is given as an address (resolving it through DNS during a failover would be a loop). \
            Keys come from a BIND key file (`tsig-keygen -a hmac-sha256 NAME > NAME.key`), so the secret \
            is not on the command line; --key NAME:SECRET exists for tests.

            \(ExitStatus.table)
            """,
        subcommands: [Update.self, Remove.self, Check.self, Query.self, HTTP.self])
}

/// Where the authoritative server is and how to talk to it.
struct DNSServerOptions: ParsableArguments {
    @Option(help: "Address of the zone's authoritative (primary) server.") var server: String
    @Option(help: "Its port.") var port: UInt16 = 53
    @Flag(help: "Use TCP instead of UDP.") var tcp = false
    @Option(help: "Seconds to wait for each answer (UDP is tried 3 times, doubling the wait).") var timeout: Double = 2

    func client() throws -> DNSClient {
        let address = try dnsInput("--server") { () throws(DNSError) in try IPAddress(server) }
        guard timeout > 0 else { throw CLIFailure(.usage, "--timeout must be positive", fix: "e.g. --timeout 2") }
        return DNSClient(server: address, port: port, timeout: timeout, attempts: 3, useTCP: tcp)
    }
}

/// The TSIG key of an update.
struct DNSKeyOptions: ParsableArguments {
    @Option(help: "BIND key file (`key \"NAME\" { algorithm hmac-sha256; secret \"...\"; };`).") var keyFile: String?
    @Option(help: "[ALGORITHM:]NAME:BASE64SECRET (visible to other users in ps: prefer --key-file).") var key: String?
    @Flag(help: "Send the update unsigned (only for servers that allow updates by address).") var unsigned = false

    func load() throws -> TSIGKey? {
        switch (keyFile, key, unsigned) {
        case (nil, nil, true): return nil
        case (let path?, nil, false):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CLIFailure(.usage, "cannot read the key file \(path)",
                                 fix: "create it with `tsig-keygen -a hmac-sha256 NAME > \(path)` and make it readable")
            }
            return try dnsInput("--key-file") { () throws(DNSError) in try TSIGKey.parse(keyFile: text, path: path) }
        case (nil, let spec?, false):
            return try dnsInput("--key") { () throws(DNSError) in try TSIGKey(spec: spec) }
        case (nil, nil, false):
            throw CLIFailure(.usage, "an update needs a TSIG key", fix: "give --key-file FILE (or --unsigned)")
        default:
            throw CLIFailure(.usage, "give only one of --key-file, --key and --unsigned")
        }
    }
}

/// Turns a `DNSError` from parsing user input into a usage failure that names the option.
func dnsInput<T>(_ option: String, _ body: () throws(DNSError) -> T) throws -> T {
    do { return try body() } catch { throw CLIFailure(.usage, "\(option): \(error.description)", fix: error.fix) }
}

/// A `DNSError` from talking to the server, with the exit code of the CLI's table.
func dnsFailure(_ error: DNSError) -> CLIFailure {
    let status: ExitStatus =
        switch error {
        case .unreachable: .unreachable
        case .tsigRejected, .responseNotAuthentic: .authentication
        case .invalidName, .invalidAddress, .keyFile, .invalidKey: .usage
        case .rejected, .noZone, .malformed: .refused
        }
    return CLIFailure(status, error.description, fix: error.fix)
}

func dnsName(_ text: String, option: String) throws -> DNSName {
    try dnsInput(option) { () throws(DNSError) in try DNSName(text) }
}

func dnsAddresses(_ texts: [String]) throws -> [IPAddress] {
    var out: [IPAddress] = []
    for text in texts.flatMap({ $0.split(whereSeparator: { $0 == "," || $0 == " " }) }) {
        out.append(try dnsInput("--address") { () throws(DNSError) in try IPAddress(String(text)) })
    }
    return Array(Set(out)).sorted()
}

/// The zone to update: --zone, or the SOA owner the server names (as nsupdate finds it).
func dnsZone(_ zone: String?, for name: DNSName, client: DNSClient) throws -> DNSName {
    if let zone { return try dnsName(zone, option: "--zone") }
    do { return try client.zone(of: name) } catch { throw dnsFailure(error) }
}

/// Waits until the server's authoritative answer for `name` is `expected`; the seconds it took.
func waitForAnswer(_ name: DNSName, _ expected: [IPAddress], client: DNSClient, seconds: Double) throws -> Double {
    let start = Date()
    var last = "no answer yet"
    while true {
        do {
            let now = try client.addresses(of: name)
            if now == expected { return Date().timeIntervalSince(start) }
            last = now.isEmpty ? "no A/AAAA records" : now.map(\.description).joined(separator: " ")
        } catch { last = error.description }
        if Date().timeIntervalSince(start) >= seconds {
            throw CLIFailure(.refused, "\(name) at \(client.serverLabel) still answers \(last) after \(seconds) s",
                             fix: "the zone may be served from a file that named did not reload; see named's log")
        }
        Thread.sleep(forTimeInterval: 0.05)
    }
}

extension DNSCommand {
    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the A and AAAA records of NAME with --address (one atomic update).")
        @Argument(help: "The name, e.g. nfs.example.com.") var name: String
        @Option(parsing: .singleValue, help: "Address of this site (repeat, or comma-separated); IPv4 and IPv6.")
        var address: [String] = []
        @Option(help: "TTL of the new records, seconds.") var ttl: UInt32 = 60
        @Option(help: "The zone (default: the SOA owner the server names for NAME).") var zone: String?
        @Option(help: "Then wait up to this many seconds until the server answers the new records.") var wait: Double = 0
        @Flag(help: "Only check the arguments and the key file; send nothing (agents' validate-all).") var checkOnly = false
        @OptionGroup var server: DNSServerOptions
        @OptionGroup var keys: DNSKeyOptions

        func run() throws {
            let name = try dnsName(name, option: "NAME")
            let addresses = try dnsAddresses(address)
            guard !addresses.isEmpty else {
                throw CLIFailure(.usage, "no --address given", fix: "give this site's address, e.g. --address 192.0.2.10")
            }
            if let zone { _ = try dnsName(zone, option: "--zone") }
            let key = try keys.load()
            let client = try server.client()
            if checkOnly { return }
            let zone = try dnsZone(zone, for: name, client: client)
            do { try client.replaceAddresses(of: name, in: zone, with: addresses, ttl: ttl, key: key) } catch {
                throw dnsFailure(error)
            }
            let list = addresses.map(\.description).joined(separator: " ")
            if wait > 0 {
                let took = try waitForAnswer(name, addresses, client: client, seconds: wait)
                print("\(name) -> \(list) at \(client.serverLabel) (zone \(zone)); answered after \(String(format: "%.3f", took)) s")
            } else {
                print("\(name) -> \(list) at \(client.serverLabel) (zone \(zone))")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the A and AAAA records of NAME (only the --address ones when given).")
        @Argument(help: "The name.") var name: String
        @Option(parsing: .singleValue, help: "Delete only these addresses.") var address: [String] = []
        @Option(help: "The zone (default: the SOA owner the server names for NAME).") var zone: String?
        @OptionGroup var server: DNSServerOptions
        @OptionGroup var keys: DNSKeyOptions

        func run() throws {
            let name = try dnsName(name, option: "NAME")
            let only = address.isEmpty ? nil : try dnsAddresses(address)
            let key = try keys.load()
            let client = try server.client()
            let zone = try dnsZone(zone, for: name, client: client)
            do { try client.removeAddresses(of: name, in: zone, only: only, key: key) } catch { throw dnsFailure(error) }
            print("\(name): \(only.map { $0.map(\.description).joined(separator: " ") } ?? "A and AAAA records") removed at \(client.serverLabel)")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exit 0 if the authoritative answer for NAME is exactly --address (A and AAAA), else 1.")
        @Argument(help: "The name.") var name: String
        @Option(parsing: .singleValue, help: "The expected addresses (all of them).") var address: [String] = []
        @Flag(help: "Expect no A/AAAA records at all.") var absent = false
        @OptionGroup var server: DNSServerOptions

        func run() throws {
            let name = try dnsName(name, option: "NAME")
            let expected = try dnsAddresses(address)
            guard absent != !expected.isEmpty else {
                throw CLIFailure(.usage, "give either --address or --absent", fix: "e.g. --address 192.0.2.10")
            }
            let client = try server.client()
            let found: [IPAddress]
            do { found = try client.addresses(of: name) } catch { throw dnsFailure(error) }
            let show = { (a: [IPAddress]) in a.isEmpty ? "no A/AAAA records" : a.map(\.description).joined(separator: " ") }
            guard found == expected else {
                throw CLIFailure(.refused, "\(name) at \(client.serverLabel) answers \(show(found)); expected \(show(expected))")
            }
            print("\(name) at \(client.serverLabel): \(show(found))")
        }
    }

    struct Query: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the authoritative A and AAAA records of NAME.")
        @Argument(help: "The name.") var name: String
        @OptionGroup var server: DNSServerOptions

        func run() throws {
            let name = try dnsName(name, option: "NAME")
            let client = try server.client()
            do { for a in try client.addresses(of: name) { print(a) } } catch { throw dnsFailure(error) }
        }
    }

    struct HTTP: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "http",
            abstract: "Send a described HTTP request to a managed DNS service's API (libcurl).",
            discussion: """
                {{KEY}} in the URL, headers and body is replaced by --set KEY=VALUE, and {{token}} by the \
                first line of --token-file (so the API token is not on the command line). A placeholder \
                without a value is an error. The request succeeds when the status is one of --expect-status \
                and, if given, the body contains --expect-body.
                """)
        @Option(help: "The URL, e.g. https://api.example.net/v1/zones/example.com/records/www.") var url: String
        @Option(help: "The method.") var method: String = "PUT"
        @Option(parsing: .singleValue, help: "A header, 'Name: value' (repeat).") var header: [String] = []
        @Option(help: "The body.") var body: String?
        @Option(help: "Read the body from this file.") var bodyFile: String?
        @Option(parsing: .singleValue, help: "KEY=VALUE for {{KEY}} (repeat).") var set: [String] = []
        @Option(help: "File whose first line is {{token}}.") var tokenFile: String?
        @Option(help: "Accepted status codes, comma-separated.") var expectStatus: String = "200,201,202,204"
        @Option(help: "The response body must contain this text.") var expectBody: String?
        @Option(help: "Seconds for the whole request.") var timeout: Double = 10
        @Option(help: "PEM file of CA certificates for the API's TLS certificate.") var caFile: String?

        func run() throws {
            var values: [String: String] = [:]
            for item in set {
                guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                    throw CLIFailure(.usage, "--set '\(item)' is not KEY=VALUE", fix: "e.g. --set address=192.0.2.10")
                }
                values[String(item[..<eq])] = String(item[item.index(after: eq)...])
            }
            if let tokenFile {
                guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8),
                      let line = text.split(separator: "\n").first, !line.isEmpty
                else { throw CLIFailure(.usage, "cannot read a token from \(tokenFile)", fix: "put the API token on its first line") }
                values["token"] = String(line).trimmingCharacters(in: .whitespaces)
            }
            var text = body
            if let bodyFile {
                guard body == nil else { throw CLIFailure(.usage, "give --body or --body-file, not both") }
                guard let t = try? String(contentsOfFile: bodyFile, encoding: .utf8) else {
                    throw CLIFailure(.usage, "cannot read --body-file \(bodyFile)")
                }
                text = t
            }
            let accepted = expectStatus.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !accepted.isEmpty else { throw CLIFailure(.usage, "--expect-status '\(expectStatus)' has no status code") }
            var headers = HTTPHeaders()
            for h in header {
                guard let colon = h.firstIndex(of: ":"), colon != h.startIndex else {
                    throw CLIFailure(.usage, "--header '\(h)' is not 'Name: value'", fix: "e.g. --header 'Content-Type: application/json'")
                }
                headers.add(name: String(h[..<colon]).trimmingCharacters(in: .whitespaces),
                            value: try fill(String(h[h.index(after: colon)...]).trimmingCharacters(in: .whitespaces),
                                            values, "--header"))
            }
            let request = HTTPRequest(
                method: HTTPMethod(rawValue: method.uppercased()), url: try fill(url, values, "--url"), headers: headers,
                body: try text.map { Data(try fill($0, values, "the body").utf8) },
                timeout: .milliseconds(Int(timeout * 1000)), caCertificatePath: caFile)
            let response: HTTPResponse
            do { response = try HTTPClient(userAgent: "meridian-dns").send(request) } catch {
                throw CLIFailure(.unreachable, "\(request.method) \(request.url): \(error.description)",
                                 fix: "check the URL, the API's reachability and its TLS certificate (--ca-file)")
            }
            let answer = String(decoding: response.body, as: UTF8.self)
            guard accepted.contains(response.status) else {
                throw CLIFailure(.refused, "\(request.method) \(request.url) answered \(response.status): \(answer.prefix(300))",
                                 fix: response.status == 401 || response.status == 403
                                    ? "the API refused the credentials: check --token-file and the header that carries it"
                                    : "compare the request with the API's documentation (--header, --body)")
            }
            if let expectBody, !answer.contains(expectBody) {
                throw CLIFailure(.refused, "\(request.method) \(request.url) answered \(response.status) without '\(expectBody)': \(answer.prefix(300))")
            }
            print("\(request.method) \(request.url): \(response.status)")
        }

        /// Replaces every {{KEY}}; an unknown or unclosed placeholder is an error naming it.
        func fill(_ template: String, _ values: [String: String], _ place: String) throws -> String {
            var out = ""
            var rest = Substring(template)
            while let open = rest.range(of: "{{") {
                out += rest[..<open.lowerBound]
                guard let close = rest[open.upperBound...].range(of: "}}") else {
                    throw CLIFailure(.usage, "\(place): '{{' without '}}'")
                }
                let key = String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces)
                guard let value = values[key] else {
                    throw CLIFailure(.usage, "\(place) uses {{\(key)}} but no value was given",
                                     fix: key == "token" ? "give --token-file FILE" : "give --set \(key)=VALUE")
                }
                out += value
                rest = rest[close.upperBound...]
            }
            return out + rest
        }
    }
}
