import BoothConfig
import Foundation
import NIOCore
import TicketLease
import TicketStore
import TicketWire

/// Splits a TCP byte stream into Booth packets using the header's `length`.
struct BoothFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= BoothWire.headerSize,
              let length = buffer.getInteger(at: buffer.readerIndex + 24, endianness: .big, as: UInt32.self)
        else { return .needMoreData }
        guard length >= BoothWire.headerSize, length <= BoothWire.maxPacketSize else {
            throw BoothDecodeError.oversized(Int(length))
        }
        guard buffer.readableBytes >= Int(length), let bytes = buffer.readBytes(length: Int(length)) else {
            return .needMoreData
        }
        context.fireChannelRead(NIOAny(bytes))
        return .continue
    }
}

/// Inbound UDP datagrams to the daemon.
final class PeerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let daemon: TicketDaemon
    init(daemon: TicketDaemon) { self.daemon = daemon }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let env = unwrapInboundIn(data)
        var buf = env.data
        guard let bytes = buf.readBytes(length: buf.readableBytes) else { return }
        daemon.receivePeer(bytes, from: env.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        daemon.logger.warning("UDP: \(error)")
    }
}

/// One client connection (the `meridian ticket` CLI or Booth's client).
final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = [UInt8]
    let daemon: TicketDaemon
    init(daemon: TicketDaemon) { self.daemon = daemon }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        daemon.clientRequest(unwrapInboundIn(data), channel: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        daemon.clientGone(context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        daemon.logger.warning("client: \(error); closing the connection")
        context.close(promise: nil)
    }
}

extension TicketDaemon {
    func clientRequest(_ bytes: [UInt8], channel: Channel) {
        let header: BoothHeader
        do { header = try BoothCodec.decodeHeader(bytes) } catch {
            logger.warning("client: malformed request: \(error)")
            channel.close(promise: nil)
            return
        }
        if let key {
            let wall = wallClockNanoseconds() / 1_000_000_000
            let ts = BoothTimestamp(secs: header.secs, usecs: header.usecs)
            let ok = header.opts & BoothWire.optAuth != 0 && BoothAuth.verify(bytes, end: bytes.count, key: key)
                && Int64(ts.secs) >= wall - Int64(config.maxTimeSkew.components.seconds)
            if !ok {
                logger.warning("client: authentication failed")
                var h = BoothHeader()
                h.cmd = .clientResult
                h.result = .authentication
                sendToClient(channel, BoothPacket(header: h, ticket: BoothTicketPayload(ticket: "", leader: BoothWire.noOne, term: 0, termValidFor: 0)))
                channel.close(promise: nil)
                return
            }
        }
        if header.opts & BoothWire.optAttr != 0 {
            return attributeRequest(bytes, header: header, channel: channel)
        }
        let json = header.options & BoothWire.meridianTagMask == BoothWire.meridianTag
            && header.options & ClientExtension.json != 0
        switch header.cmd {
        case .list:
            sendText(channel, json ? listJSON() : listText())
            channel.close(promise: nil)
        case .peers:
            sendText(channel, json ? peersJSON() : peersText())
            channel.close(promise: nil)
        case .grant, .revoke:
            let name = (try? BoothCodec.decodeTicket(bytes, at: BoothWire.headerSize))?.ticket ?? ""
            guard let t = leases.firstIndex(where: { $0.settings.ticket == name }) else {
                logger.warning("client referenced unknown ticket \"\(name)\"")
                replyPacket(channel, result: .invalidArgument, ticket: nil, name: name)
                channel.close(promise: nil)
                return
            }
            let id = nextClientID
            nextClientID += 1
            clients[id] = (channel, t, header.cmd)
            let opts = BoothClientOptions(rawValue: header.options & 0xFF)
            let n = now()
            if header.cmd == .grant {
                logger.info("\(name): grant requested by a client\(opts.contains(.immediate) ? " (--force)" : "")")
                execute(leases[t].grant(client: id, force: opts.contains(.immediate), now: n), ticket: t)
            } else {
                logger.info("\(name): revoke requested by a client")
                execute(leases[t].revoke(client: id, now: n), ticket: t)
            }
            reschedule()
        default:
            logger.warning("client: unsupported command \(header.cmd)")
            replyPacket(channel, result: .invalidArgument, ticket: nil, name: "")
            channel.close(promise: nil)
        }
    }

    func clientGone(_ channel: Channel) {
        clients = clients.filter { $0.value.channel !== channel }
    }

    func replyClient(_ id: ClientID, outcome: ClientOutcome, leader: Int?, final: Bool, ticket i: Int) {
        guard let c = clients[id] else { return }
        let result: BoothResult = switch outcome {
        case .success: .success
        case .more: .more
        case .commitPending: .cibPending
        case .syncFail: .syncFail
        case .overgrant: .overgrant
        case .ticketIdle: .ticketIdle
        case .redirect: .redirect
        case .handlerFailed: .externalProgramFailed
        case .attributePrerequisite: .attributePrerequisite
        case .notASite: .invalidArgument
        }
        replyPacket(c.channel, result: result, ticket: i, name: leases[i].settings.ticket, leaderOverride: leader)
        if final {
            clients[id] = nil
            c.channel.close(promise: nil)
        }
    }

    func replyPacket(_ channel: Channel, result: BoothResult, ticket i: Int?, name: String, leaderOverride: Int? = nil) {
        var h = BoothHeader()
        h.from = mapping.siteIDs[me]
        h.cmd = .clientResult
        h.result = result
        h.options = BoothWire.meridianTag
        var payload = BoothTicketPayload(ticket: name, leader: BoothWire.noOne, term: 0, termValidFor: 0)
        if let i {
            let s = leases[i].status(at: now())
            let l = leaderOverride ?? s.leader
            payload.leader = l.map { mapping.siteIDs[$0] } ?? BoothWire.noOne
            payload.term = s.term
            payload.termValidFor = mapping.encodeValid(s.expires.map { $0 - now() } ?? .zero).0
        }
        sendToClient(channel, BoothPacket(header: h, ticket: payload))
    }

    func sendToClient(_ channel: Channel, _ p: BoothPacket) {
        var p = p
        p.header.from = mapping.siteIDs[me]
        let bytes = BoothPeerDecoder.encode(p, key: key, timestamp: timestamp())
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
    }

    func sendText(_ channel: Channel, _ text: String) {
        var h = BoothHeader()
        h.cmd = .clientList
        h.options = BoothWire.meridianTag
        sendToClient(channel, BoothPacket(header: h, text: text))
    }

    // MARK: - Geo attributes (Booth's geostore)

    /// ASet/AGet/ADel/ALst: attributes are kept per ticket in memory, as boothd does, and fed to
    /// the lease core, which tests them for `attr-prereq`.
    func attributeRequest(_ bytes: [UInt8], header: BoothHeader, channel: Channel) {
        defer { channel.close(promise: nil) }
        func result(_ r: BoothResult) {
            var h = BoothHeader()
            h.cmd = .clientResult
            h.result = r
            h.options = BoothWire.meridianTag
            sendToClient(channel, BoothPacket(header: h))
        }
        guard let a = try? BoothAttributePayload.decode(bytes, at: BoothWire.headerSize) else {
            logger.warning("client: malformed attribute request")
            return result(.invalidArgument)
        }
        guard let t = leases.firstIndex(where: { $0.settings.ticket == a.ticket }) else {
            logger.warning("client referenced unknown ticket \"\(a.ticket)\" (attribute \(a.name))")
            return result(.invalidArgument)
        }
        let n = now()
        switch header.cmd {
        case .attributeSet:
            logger.info("\(a.ticket): attribute \(a.name) = \(a.value)")
            attributeTimes[a.ticket + "\u{0}" + a.name] = wallClockNanoseconds() / 1_000_000
            execute(leases[t].setAttribute(a.name, value: a.value, now: n), ticket: t)
            reschedule()
            result(.success)
        case .attributeDelete:
            guard leases[t].attributes[a.name] != nil else { return result(.noSuchAttribute) }
            logger.info("\(a.ticket): attribute \(a.name) deleted")
            execute(leases[t].setAttribute(a.name, value: nil, now: n), ticket: t)
            reschedule()
            result(.success)
        case .attributeGet:
            guard let v = leases[t].attributes[a.name] else { return result(.noSuchAttribute) }
            var h = BoothHeader()
            h.cmd = .attributeGet
            h.options = BoothWire.meridianTag
            sendToClient(channel, BoothPacket(header: h, text: v + "\n"))
        case .attributeList:
            var h = BoothHeader()
            h.cmd = .attributeList
            h.options = BoothWire.meridianTag
            let text = leases[t].attributes.keys.sorted().map { name in
                let when = attributeTimes[a.ticket + "\u{0}" + name].map { String(formatEpochMs($0).prefix(19)) } ?? ""
                return "\(name) \(leases[t].attributes[name]!) \(when)\n"
            }.joined()
            sendToClient(channel, BoothPacket(header: h, text: text))
        default:
            result(.invalidArgument)
        }
    }

    // MARK: - Listings

    func listings() -> [TicketListing] {
        let clocks = ClockPair.now()
        let n = LeaseInstant(nanoseconds: clocks.monotonic)
        return leases.map { l in
            let s = l.status(at: n)
            return TicketListing(
                ticket: l.settings.ticket, leader: s.leader.map { config.members[$0].address },
                expiresEpochMs: s.expires.map { clocks.wall(of: $0) / 1_000_000 }, term: s.term,
                state: s.role.rawValue, grantedHere: s.holder,
                commitPendingUntilEpochMs: s.commitPendingUntil.map { clocks.wall(of: $0) / 1_000_000 },
                mode: l.settings.manual ? "manual" : "auto")
        }
    }

    func listText() -> String {
        listings().map { t in
            var line = "ticket: \(t.ticket), leader: \(t.leader ?? "NONE")"
            if t.leader != nil, t.mode != "manual" {
                line += ", expires: \(formatEpochMs(t.expiresEpochMs).prefix(19))"
                if let c = t.commitPendingUntilEpochMs { line += " (commit pending until \(formatEpochMs(c).prefix(19)))" }
            }
            if t.mode == "manual" { line += " [manual mode]" }
            return line + "\n"
        }.joined()
    }

    func listJSON() -> String {
        let reply = TicketListReply(member: myAddress, role: config.members[me].kind.rawValue, tickets: listings())
        return String(decoding: (try? JSONEncoder().encode(reply)) ?? Data(), as: UTF8.self)
    }

    func peerListings() -> [PeerListing] {
        config.members.indices.filter { $0 != me }.map { i in
            let s = peers[i]
            return PeerListing(address: config.members[i].address, kind: config.members[i].kind.rawValue,
                               lastReceivedEpochMs: s.lastReceivedWallMs, sent: s.sent, sendErrors: s.sendErrors,
                               resends: s.resends, received: s.received, receiveErrors: s.receiveErrors,
                               authFailures: s.authFailures, invalid: s.invalid, replays: s.replays,
                               meridian: s.meridian)
        }
    }

    func peersText() -> String {
        peerListings().map { p in
            let last = p.lastReceivedEpochMs.map { String(formatEpochMs($0).prefix(19)) } ?? "never"
            return "\(p.kind.padding(toLength: 12, withPad: " ", startingAt: 0)) \(p.address), last recv: \(last)\n"
                + "\tSent pkts:\(p.sent) error:\(p.sendErrors) resends:\(p.resends)\n"
                + "\tRecv pkts:\(p.received) error:\(p.receiveErrors) authfail:\(p.authFailures) invalid:\(p.invalid) replays:\(p.replays)\n\n"
        }.joined()
    }

    func peersJSON() -> String {
        let reply = PeerListReply(member: myAddress, peers: peerListings(), unknownSenders: unknownSenders)
        return String(decoding: (try? JSONEncoder().encode(reply)) ?? Data(), as: UTF8.self)
    }
}
