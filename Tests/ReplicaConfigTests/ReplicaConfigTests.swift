import Foundation
import Testing
@testable import ReplicaConfig

@Suite struct ReplicaConfigTests {
    static let full = """
        global { usage-count no; }
        common { disk { c-max-rate 200M; } net { protocol C; } }
        resource r0 {
          net { protocol A; cram-hmac-alg sha256; shared-secret "s3\\"cret"; after-sb-0pri discard-zero-changes;
                after-sb-1pri discard-secondary; after-sb-2pri disconnect; fencing resource-only; ping-int 3;
                connect-int 2; timeout 40; max-buffers 8000; }
          disk { c-plan-ahead 10; c-fill-target 100; c-delay-target 5; c-min-rate 250k; resync-rate 10M; al-extents 1237; }
          handlers { fence-peer "/usr/lib/meridian/fence-peer"; split-brain "/bin/true"; }
          volume 0 { device minor 0; disk /dev/vg/r0; meta-disk internal; }
          volume 1 { meta-disk internal; }
          on alpha { node-id 0; address 127.0.0.1:7789; volume 1 { disk /srv/alpha-r0-1.img; meta-disk internal; } }
          on beta  { node-id 1; address ipv4 127.0.0.2:7789; volume 0 { disk /srv/beta-r0.img; meta-disk internal; }
                     volume 1 { disk /srv/beta-r0-1.img; meta-disk internal; } }
        }
        resource r1 { volume 0 { disk /dev/x; meta-disk internal; }
          on alpha { node-id 0; address [::1]:7790; } on beta { node-id 1; address [::1]:7791; } }

        """

    @Test func everyOptionUnitsAndInheritance() throws {
        let config = try ReplicaConfiguration.parse(text: Self.full, file: "t.res")
        #expect(config.resources.map(\.name) == ["r0", "r1"])
        let r0 = try #require(config.resource(named: "r0"))
        #expect(r0.protocolName == .a && r0.net.cramHMACAlgorithm == "sha256" && r0.net.sharedSecret == "s3\"cret")
        #expect(r0.net.afterSB0Primary == "discard-zero-changes" && r0.net.fencing == "resource-only")
        #expect(r0.net.pingInterval == .seconds(3) && r0.net.timeout == .seconds(4) && r0.net.connectInterval == .seconds(2))
        #expect(r0.disk.maxRate == 200 << 20, "inherited from common")
        #expect(r0.disk.planAhead == .seconds(1) && r0.disk.fillTarget == 51200 && r0.disk.delayTarget == .milliseconds(500))
        #expect(r0.disk.minRate == 250 << 10 && r0.disk.resyncRate == 10 << 20 && r0.disk.activityLogExtents == 1237)
        #expect(r0.handlers["split-brain"] == "/bin/true")
        #expect(r0.volume(0, on: "alpha")?.disk == "/dev/vg/r0" && r0.volume(0, on: "beta")?.disk == "/srv/beta-r0.img")
        #expect(r0.volume(1, on: "alpha")?.disk == "/srv/alpha-r0-1.img" && r0.volumes == [0, 1])
        #expect(r0.nodes[1].host == "127.0.0.2" && r0.nodes[1].port == 7789)
        let r1 = try #require(config.resource(named: "r1"))
        #expect(r1.protocolName == .c && r1.nodes[0].host == "::1" && r1.disk.maxRate == 200 << 20)
    }

    static let errors: [(String, String, String)] = [
        ("resource r { volume 0 { disk /a; meta-disk internal; } on a { node-id 0; address 127.0.0.1:1; } }", "1:1", "two nodes"),
        ("resource r { net { protocol B; } }", "1:20", "protocol B"),
        ("resource r { net { verify-alg md5; } }", "1:20", "verify-alg md5 is not supported"),
        ("resource r { net { protocl C; } }", "1:20", "did you mean 'protocol'"),
        ("resource r { volume 0 { disk /a; meta-disk /dev/md; } }", "1:34", "only internal"),
        ("resource r { net { cram-hmac-alg sha256; } volume 0 { disk /a; meta-disk internal; } on a { node-id 0; address 127.0.0.1:1; } on b { node-id 1; address 127.0.0.2:1; } }", "1:1", "shared-secret"),
        ("resource r { volume 0 { disk /a; meta-disk internal; } on a { node-id 0; address 127.0.0.1:1; } on b { node-id 0; address 127.0.0.2:1; } }", "1:97", "node-id 0 is used by both"),
        ("resource r { on a { node-id 0; address host.example:1; } }", "1:32", "numeric"),
        ("resource r { net { after-sb-2pri discard-secondary; } }", "1:20", "after-sb-2pri"),
        ("resource r { connection-mesh { hosts a b; } }", "1:14", "not supported"),
        ("resource r { net { protocol C; }", "1:12", "never closed"),
        ("resource r { disk /dev/sdb; }", "1:14", "belongs in a `volume N { }` section"),
        ("resource r { net { fencing resource-and-stonith; } volume 0 { disk /a; meta-disk internal; } on a { node-id 0; address 127.0.0.1:1; } on b { node-id 1; address 127.0.0.2:1; } }", "1:1", "no fence-peer handler"),
        ("resource r { volume 0 { meta-disk internal; } on a { node-id 0; address 127.0.0.1:1; } on b { node-id 1; address 127.0.0.2:1; } }", "1:47", "no disk on a"),
        ("resource r { handlers { before-resync-target \"/usr/lib/drbd/snapshot-resync-target-lvm.sh\"; } }", "1:25", "before-resync-target is not supported"),
        ("resource r { handlers { local-io-error \"/bin/true\"; } }", "1:25", "on-io-error pass_on"),
        ("resource r { disk { on-io-error detach; } }", "1:21", "does not detach"),
    ]

    @Test(arguments: 0..<errors.count)
    func errorsNameThePlaceAndTheFix(index: Int) {
        let (text, place, words) = Self.errors[index]
        do {
            _ = try ReplicaConfiguration.parse(text: text, file: "bad.res")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix("bad.res:\(place):"), "\(error.description)")
            #expect(error.description.contains(words), "\(error.description)")
        }
    }

    @Test func includeFollowsRelativePaths() throws {
        let dir = NSTemporaryDirectory() + "replica-config-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir + "/res.d", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "include \"res.d/*.res\";\n".write(toFile: dir + "/main.res", atomically: true, encoding: .utf8)
        try Self.full.write(toFile: dir + "/res.d/r.res", atomically: true, encoding: .utf8)
        #expect(try ReplicaConfiguration.load(path: dir + "/main.res").resources.count == 2)
    }
}
