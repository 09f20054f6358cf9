import Foundation
import ProcessTestSupport
import Testing

/// Examples/services/*.xml: valid for Pacemaker (crm_verify), placed as intended by
/// Pacemaker's own scheduler (crm_simulate: nothing but Unpromoted volumes without the
/// ticket; with it, promotion and the whole service group on the Promoted node), and every
/// parameter of an ocf:meridian resource is one its agent declares (required ones present).
@Suite struct ExamplesTests {
    static let services = ["nfs", "mariadb", "activemq"]

    func path(_ service: String) -> String { Repository.root + "/Examples/services/\(service).xml" }

    /// Parsed "Transition Summary" lines: (action, resource, node the action ends on).
    func summary(_ service: String, grant: Bool) throws -> [(action: String, resource: String, node: String)] {
        let dir = try ScratchDirectory("example-\(service)")
        defer { dir.remove() }
        // crm_simulate writes into the file it reads when injecting: a copy.
        let copy = dir.file("cib.xml")
        try FileManager.default.copyItem(atPath: path(service), toPath: copy)
        var args = ["-x", copy, "-S"]
        if grant { args += ["-g", "ticket-\(service)"] }
        let r = try runProgram("/usr/sbin/crm_simulate", args)
        guard r.status == 0, let start = r.output.range(of: "Transition Summary:") else {
            throw HarnessError("crm_simulate \(args.joined(separator: " ")) exited \(r.status): \(r.output)")
        }
        var result: [(action: String, resource: String, node: String)] = []
        for line in r.output[start.upperBound...].split(separator: "\n") {
            if line.hasPrefix("Executing") { break }
            let words: [String] = line.split(whereSeparator: { $0 == " " || $0 == "(" || $0 == ")" }).map(String.init)
            guard words.count >= 3, words[0] == "*", let last = words.last else { continue }
            result.append((action: words[1], resource: words[2], node: last))
        }
        return result
    }

    @Test(arguments: services) func crmVerifyAcceptsIt(_ service: String) throws {
        let r = try runProgram("/usr/sbin/crm_verify", ["-x", path(service)])
        #expect(r.status == 0 && r.output.isEmpty, "\(r.output)")
    }

    @Test(arguments: services) func withoutTheTicketOnlyUnpromotedVolumesStart(_ service: String) throws {
        let actions = try summary(service, grant: false)
        #expect(!actions.isEmpty)
        for a in actions {
            #expect(a.action == "Start" && (a.resource.hasPrefix("vol-") || a.resource.hasPrefix("fence-")),
                    "\(service): \(a) without the ticket")
        }
    }

    @Test(arguments: services) func withTheTicketTheServiceFollowsThePromotedVolume(_ service: String) throws {
        let actions = try summary(service, grant: true)
        let promotions = actions.filter { $0.action == "Promote" }
        #expect(promotions.count == 1, "\(actions)")
        let node = try #require(promotions.first?.node)
        let xml = try String(contentsOfFile: path(service), encoding: .utf8)
        // Every primitive of the service group starts, on the Promoted node.
        let group = try #require(xml.range(of: "<group id=\"\(service)-service\">"))
        let groupEnd = try #require(xml.range(of: "</group>", range: group.upperBound..<xml.endIndex))
        let members = xml[group.upperBound..<groupEnd.lowerBound].components(separatedBy: "<primitive id=\"").dropFirst()
            .map { String($0.prefix { $0 != "\"" }) }
        #expect(members.count >= 4 && members.last?.hasPrefix("dns-") == true, "\(members)")
        for member in members {
            let started = actions.first { $0.resource == member }
            #expect(started?.action == "Start" && started?.node == node, "\(service): \(member): \(String(describing: started))")
        }
    }

    /// Every nvpair of an ocf:meridian primitive names a parameter of that agent, and every
    /// required parameter is given.
    @Test(arguments: services) func parametersAreTheAgentsOwn(_ service: String) throws {
        let xml = try String(contentsOfFile: path(service), encoding: .utf8)
        for chunk in xml.components(separatedBy: "<primitive ").dropFirst() {
            guard let typeRange = chunk.range(of: "provider=\"meridian\" type=\"") else { continue }
            let type = String(chunk[typeRange.upperBound...].prefix { $0 != "\"" })
            let body = chunk.components(separatedBy: "</primitive>")[0]
            let given = body.components(separatedBy: "<nvpair ").dropFirst().compactMap { nv -> String? in
                guard let r = nv.range(of: "name=\"") else { return nil }
                return String(nv[r.upperBound...].prefix { $0 != "\"" })
            }.filter { $0 != "OCF_CHECK_LEVEL" }
            let meta = try OCFAgent(type).metaData()
            let declared = meta.components(separatedBy: "<parameter name=\"").dropFirst()
                .map { (name: String($0.prefix { $0 != "\"" }), required: $0.prefix { $0 != ">" }.contains("required=\"1\"")) }
            for name in given {
                #expect(declared.contains { $0.name == name }, "\(service): \(type) has no parameter \(name)")
            }
            for p in declared where p.required {
                #expect(given.contains(p.name), "\(service): \(type) needs \(p.name)")
            }
        }
    }
}
