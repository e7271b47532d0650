import XCTest
@testable import TraceLensInput
@testable import TraceLensRecords
@testable import TraceLensDecode
@testable import TraceLensPlugins
@testable import TraceLensHandshake
@testable import TraceLensCorrelate
@testable import TraceLensStore
@testable import TraceLensRender
@testable import TraceLensQuery
@testable import TraceLensFollow
@testable import TraceLensDiagnose
@testable import TraceLensCommands
@testable import TraceLensBench

/// The linking core on its own, without a store: connections as `Linker` would load them (the
/// values are those the samples' scenarios store), the plugins' link rules, and the links and
/// counts that come out.
final class LinkCoreTests: XCTestCase {
    let engine = LinkEngine(plugins: Fixtures.plugins)

    /// revoked-client-cert: the job log, its SDSF capture, the LDAP debug trace and the GSK trace.
    static let joblog: Int64 = 1, sdsf: Int64 = 2, dsout: Int64 = 3, gsk: Int64 = 4, client: Int64 = 5
    let revokedSources = [
        LinkSource(id: LinkCoreTests.joblog, path: "/cases/revoked-client-cert/gldsrv.joblog", layout: "gld-joblog"),
        LinkSource(id: LinkCoreTests.sdsf, path: "/cases/revoked-client-cert/gldsrv-sdsf.txt", layout: "gld-sdsf"),
        LinkSource(id: LinkCoreTests.dsout, path: "/cases/revoked-client-cert/gldsrv.dsout"),
        LinkSource(id: LinkCoreTests.gsk, path: "/cases/revoked-client-cert/gskssl.65567.trc"),
        LinkSource(id: LinkCoreTests.client, path: "/cases/revoked-client-cert/client.txt"),
    ]

    /// A connection; `codes` as the store keeps error and related codes (`cms:03353041 ssl:431`).
    func conn(_ id: Int64, _ source: Int64, _ rule: String, _ start: Int64?, _ end: Int64? = nil,
              failed codes: String? = nil, _ fields: [String: String] = [:]) -> LinkCandidate {
        LinkCandidate(id: id, source: source, rule: rule, start: start, end: end ?? start, failed: codes != nil,
                      failures: (codes ?? "").split(separator: " ").compactMap { CodeRef($0) }, fields: fields)
    }

    /// The three GSK sessions of revoked-client-cert: two revoked (10:07:19, 10:07:22), one ok.
    var revokedSessions: [LinkCandidate] {
        [conn(25, Self.gsk, "gsk-session", 1_648_116_439_000_000, failed: "cms:03353041 alert:44 ssl:431", ["peer_ip": "10.1.0.2", "peer_port": "42514", "cipher": "C02C"]),
         conn(26, Self.gsk, "gsk-session", 1_648_116_442_000_000, failed: "cms:03353041 alert:44 ssl:431", ["peer_ip": "10.1.0.2", "peer_port": "42515", "cipher": "C02C"]),
         conn(27, Self.gsk, "gsk-session", 1_648_116_451_000_000, 1_648_116_452_000_000, ["peer_ip": "10.1.0.2", "peer_port": "42518", "cipher": "C02F"])]
    }

    /// A GLD1116E message as the store keeps it: the SSL code it names, then the message's own.
    func gld1116e(_ id: Int64, _ source: Int64 = LinkCoreTests.joblog, at start: Int64?, peer: String?,
                  codes: String = "ssl:431 gld:GLD1116E") -> LinkCandidate {
        conn(id, source, "gld-ssl-failure", start, failed: codes, peer.map { ["peer_ip": $0] } ?? [:])
    }

    func pairs(_ plan: LinkPlan) -> [[Int64]] { plan.links.map { [$0.conn, $0.story] }.sorted { $0.lexicographicallyPrecedes($1) } }
    func count(_ plan: LinkPlan, _ rule: String) -> LinkReport.RuleCount? { plan.report.rules.first { $0.rule == rule } }

    /// A rule has sides only where sources have its connections: a lone GSK trace gives the
    /// job-log rule no `from` side, and a copy rule over one job log has the same lone source on
    /// both sides; neither can link anything, so their connections are not loaded.
    func testARuleHasSidesOnlyWhereTwoSourcesHaveItsConnections() throws {
        let gld = try XCTUnwrap(engine.rules.first { $0.name == "gld1116e-gsk" })
        let copy = try XCTUnwrap(engine.rules.first { $0.name == "gld-sdsf-copy" })
        let gskOnly: [Int64: Set<String>] = [Self.gsk: [gld.to]]
        XCTAssertEqual(engine.sides(of: gld, present: gskOnly, sources: revokedSources).from, [])
        XCTAssertEqual(engine.sides(of: gld, present: gskOnly, sources: revokedSources).to, [Self.gsk])
        let both: [Int64: Set<String>] = [Self.gsk: [gld.to], Self.joblog: [gld.from]]
        XCTAssertEqual(engine.sides(of: gld, present: both, sources: revokedSources).from, [Self.joblog])
        // The copy rule reads the capture's layout on one side, the job log's on the other.
        let logs: [Int64: Set<String>] = [Self.joblog: [copy.from, copy.to], Self.sdsf: [copy.from, copy.to]]
        let sides = engine.sides(of: copy, present: logs, sources: revokedSources)
        XCTAssertFalse(sides.from.isEmpty)
        XCTAssertFalse(sides.to.isEmpty)
        XCTAssertNotEqual(sides.from, sides.to)
        let logOnly = engine.sides(of: copy, present: [Self.joblog: [copy.from, copy.to]], sources: revokedSources)
        XCTAssertEqual(logOnly.from, [], "a job log alone is no capture")
        XCTAssertEqual(logOnly.to, [Self.joblog])
    }

    func testGLD1116ELinksToTheSessionOfItsPeerWithARelatedCode() {
        let plan = engine.link(revokedSessions + [
            gld1116e(22, at: 1_648_116_439_000_000, peer: "10.1.0.2"),
            gld1116e(23, at: 1_648_116_442_000_000, peer: "10.1.0.2"),
            gld1116e(24, at: 1_648_116_768_000_000, peer: "10.1.0.7"),
        ], sources: revokedSources)
        XCTAssertEqual(pairs(plan), [[22, 25], [23, 26]])
        XCTAssertEqual(plan.links.first { $0.conn == 22 }?.evidence, "peer_ip 10.1.0.2; both failed; ssl:431 goes with cms:03353041; 0 ms apart")
        XCTAssertEqual(plan.links.first { $0.conn == 22 }?.gap, 0)
        XCTAssertEqual(count(plan, "gld1116e-gsk"), LinkReport.RuleCount(rule: "gld1116e-gsk", candidates: 3, linked: 2, ambiguous: 0, unmatched: 1))
        XCTAssertTrue(plan.offsets.isEmpty)
    }

    func testConflictingKeysOrCodesDoNotLink() {
        let plan = engine.link(revokedSessions + [
            gld1116e(22, at: 1_648_116_439_000_000, peer: "10.1.0.3"),
            // 402 (no cipher in common) is no revoked certificate.
            gld1116e(23, at: 1_648_116_442_000_000, peer: "10.1.0.2", codes: "ssl:402 gld:GLD1116E"),
        ], sources: revokedSources)
        XCTAssertEqual(pairs(plan), [])
        XCTAssertEqual(count(plan, "gld1116e-gsk")?.unmatched, 2)
    }

    /// ldap-debug-gsk requires the cipher: a different one, or none on a connection that did not
    /// fail (plain LDAP), does not link.
    func testARequiredKeyMustBeThereAndAgree() {
        let ldap = { (id: Int64, cipher: String?) in
            self.conn(id, Self.dsout, "ldap-conn", 1_648_116_451_140_775, 1_648_116_452_207_745, cipher.map { ["cipher": $0] } ?? [:])
        }
        XCTAssertEqual(pairs(engine.link(revokedSessions + [ldap(20, "C02F")], sources: revokedSources)), [[20, 27]])
        XCTAssertEqual(pairs(engine.link(revokedSessions + [ldap(20, "c02f")], sources: revokedSources)), [[20, 27]], "keys compare without case")
        XCTAssertEqual(pairs(engine.link(revokedSessions + [ldap(20, "C02C")], sources: revokedSources)), [])
        XCTAssertEqual(pairs(engine.link(revokedSessions + [ldap(20, nil)], sources: revokedSources)), [])
    }

    func testTheWindowBoundsTheGapAndTheOptionWidensIt() {
        // 15 s after the first revoked session, 12 s after the second.
        let late = [gld1116e(22, at: 1_648_116_454_000_000, peer: "10.1.0.2")]
        XCTAssertEqual(pairs(engine.link(revokedSessions + late, sources: revokedSources)), [])
        let wide = engine.link(revokedSessions + late, sources: revokedSources, options: LinkOptions(window: 20_000_000))
        XCTAssertEqual(pairs(wide), [[22, 26]], "the nearest")
        XCTAssertEqual(wide.links.first?.evidence, "peer_ip 10.1.0.2; both failed; ssl:431 goes with cms:03353041; 12.0 s apart")
    }

    func testEquallyGoodCandidatesAreAmbiguous() {
        // Two sessions from one peer failing the same way in the same second.
        let sessions = [
            conn(25, Self.gsk, "gsk-session", 1_648_116_439_000_000, failed: "cms:03353041 alert:44 ssl:431", ["peer_ip": "10.1.0.2", "peer_port": "42514"]),
            conn(26, Self.gsk, "gsk-session", 1_648_116_439_000_000, failed: "cms:03353041 alert:44 ssl:431", ["peer_ip": "10.1.0.2", "peer_port": "42515"]),
        ]
        let plan = engine.link(sessions + [gld1116e(22, at: 1_648_116_439_000_000, peer: "10.1.0.2")], sources: revokedSources)
        XCTAssertEqual(pairs(plan), [])
        XCTAssertEqual(count(plan, "gld1116e-gsk")?.ambiguous, 1)
        XCTAssertEqual(count(plan, "gld1116e-gsk")?.unmatched, 0)
    }

    /// ec-cert-rsa-cipher: the client's clock is an hour ahead of z/OS.
    func testAClockOffsetBringsASourceIntoTheWindowAndIsKept() {
        let sources = [LinkSource(id: 1, path: "/cases/ec-cert-rsa-cipher/client.txt"),
                       LinkSource(id: 2, path: "/cases/ec-cert-rsa-cipher/gskssl.50331688.trc")]
        let conns = [
            conn(28, 1, "client-attempt", 1_634_122_222_000_000, failed: "alert:80 x509verify:19 opensslreason:TLSV1_ALERT_INTERNAL_ERROR sclient:NONE"),
            conn(33, 2, "gsk-session", 1_634_118_622_000_000, failed: "ssl:434 alert:80", ["peer_ip": "10.1.0.2", "peer_port": "42514"]),
        ]
        XCTAssertEqual(pairs(engine.link(conns, sources: sources)), [])

        let given = engine.link(conns, sources: sources, options: LinkOptions(offsets: [("client.txt", -3_600_000_000), ("*.joblog", 1)]))
        XCTAssertEqual(pairs(given), [[28, 33]])
        XCTAssertEqual(given.links.first?.evidence, "both failed; alert:80 goes with ssl:434; 0 ms apart")
        XCTAssertEqual(given.offsets.map { [$0.source, $0.micros] }, [[1, -3_600_000_000]], "kept for the client only")
        XCTAssertEqual(given.report.offsetsApplied.map(\.pattern), ["client.txt", "*.joblog"])
        XCTAssertEqual(given.report.offsetsApplied.map(\.sources), [1, 0])

        // The offset kept from an earlier run applies without being given again.
        var kept = sources
        kept[0].clockOffset = -3_600_000_000
        let again = engine.link(conns, sources: kept)
        XCTAssertEqual(pairs(again), [[28, 33]])
        XCTAssertTrue(again.offsets.isEmpty)
    }

    /// attls-revoked: the syslog gives a time of day only; it is compared within a day, across
    /// midnight too.
    func testATimeOfDayIsComparedWithinADay() {
        let sources = [LinkSource(id: 1, path: "/cases/attls-revoked/syslogd.log"),
                       LinkSource(id: 2, path: "/cases/attls-revoked/gsksrvr-ctrace.txt")]
        let session = conn(4, 2, "gsk-session", 1_636_934_400_500_000, failed: "cms:03353041 alert:44 ssl:431", ["peer_ip": "10.1.0.2", "peer_port": "42530"])
        let attls = { (start: Int64) in self.conn(6, 1, "attls-conn", start, failed: "ssl:431", ["peer_ip": "10.1.0.2", "peer_port": "42530"]) }
        // 23:59:59 before the session at 00:00:00.5.
        let beforeMidnight = engine.link([session, attls(86_399_000_000)], sources: sources)
        XCTAssertEqual(pairs(beforeMidnight), [[6, 4]])
        XCTAssertEqual(beforeMidnight.links.first?.evidence, "peer_ip 10.1.0.2; peer_port 42530; both failed; ssl:431 goes with cms:03353041; 1.5 s apart")
        XCTAssertEqual(pairs(engine.link([session, attls(1_000_000)], sources: sources)), [[6, 4]], "00:00:01")
        XCTAssertEqual(pairs(engine.link([session, attls(43_200_000_000)], sources: sources)), [], "noon")
    }

    /// An SDSF capture has no times: its GLD1116E link only to sessions of the same folder, the
    /// only match alone, several in the order the capture lists them.
    func testConnectionsWithoutTimeLinkInOrderWithinTheirFolder() {
        let capture = [gld1116e(12, Self.sdsf, at: nil, peer: nil, codes: "gld:GLD1116E"),
                       gld1116e(13, Self.sdsf, at: nil, peer: "10.1.0.2"),
                       gld1116e(14, Self.sdsf, at: nil, peer: "10.1.0.7")]
        let plan = engine.link(revokedSessions + capture, sources: revokedSources)
        XCTAssertEqual(pairs(plan), [[12, 25], [13, 26]])
        XCTAssertNil(plan.links.first?.gap)
        XCTAssertEqual(plan.links.first { $0.conn == 13 }?.evidence,
                       "peer_ip 10.1.0.2; both failed; ssl:431 goes with cms:03353041; no time to compare, matched in order")

        let alone = engine.link([revokedSessions[0], capture[1]], sources: revokedSources)
        XCTAssertEqual(alone.links.first?.evidence, "peer_ip 10.1.0.2; both failed; ssl:431 goes with cms:03353041; no time to compare, the only match")

        var elsewhere = revokedSources
        elsewhere[1].path = "/cases/other/gldsrv-sdsf.txt"
        XCTAssertEqual(pairs(engine.link([revokedSessions[0], capture[1]], sources: elsewhere)), [])
    }

    /// The job log's three GLD1116E at 10.07.19, 10.07.22 and 10.12.48.
    var jobLogFailures: [LinkCandidate] {
        [gld1116e(30, at: 1_648_116_439_000_000, peer: "10.1.0.2"),
         gld1116e(31, at: 1_648_116_442_000_000, peer: "10.1.0.2"),
         gld1116e(32, at: 1_648_116_768_000_000, peer: "10.1.0.7")]
    }

    /// An SDSF capture of the job log is a copy: its failures join the job log's in the same
    /// order (the first, cut before its address, too), and through them the GSK sessions, so
    /// each failure is one story.
    func testAnSDSFCaptureJoinsItsJobLogInOrderAndThroughItTheSession() {
        let capture = [gld1116e(12, Self.sdsf, at: nil, peer: nil, codes: "gld:GLD1116E"),
                       gld1116e(13, Self.sdsf, at: nil, peer: "10.1.0.2"),
                       gld1116e(14, Self.sdsf, at: nil, peer: "10.1.0.7")]
        let plan = engine.link(revokedSessions + jobLogFailures + capture, sources: revokedSources)
        XCTAssertEqual(pairs(plan), [[12, 25], [13, 26], [14, 32], [30, 25], [31, 26]])
        XCTAssertEqual(plan.links.first { $0.conn == 13 }?.evidence,
                       "peer_ip 10.1.0.2; both failed; same code ssl:431; a copy: the same connections in the same order; through conn 31")
        XCTAssertEqual(count(plan, "gld-sdsf-copy"), LinkReport.RuleCount(rule: "gld-sdsf-copy", candidates: 3, linked: 3, ambiguous: 0, unmatched: 0))

        // Without the GSK trace, the capture's failures are the job log's: three stories, not six.
        let alone = engine.link(jobLogFailures + capture, sources: revokedSources)
        XCTAssertEqual(pairs(alone), [[12, 30], [13, 31], [14, 32]])
    }

    /// A capture shows the stretch of the job log that was on the screen; it is matched where
    /// it fits, and left to be matched one by one when it fits in two places.
    func testACaptureIsMatchedWhereItFitsAndOnlyWhereItFitsOnce() {
        let middle = [gld1116e(13, Self.sdsf, at: nil, peer: "10.1.0.2"), gld1116e(14, Self.sdsf, at: nil, peer: "10.1.0.7")]
        XCTAssertEqual(pairs(engine.link(jobLogFailures + middle, sources: revokedSources)), [[13, 31], [14, 32]])

        let twoPlaces = [gld1116e(13, Self.sdsf, at: nil, peer: "10.1.0.2")]
        let plan = engine.link(jobLogFailures + twoPlaces, sources: revokedSources)
        XCTAssertEqual(pairs(plan), [])
        XCTAssertEqual(count(plan, "gld-sdsf-copy")?.ambiguous, 1)

        // A failure the job log does not have (another peer, another code) is no copy of it.
        let other = [gld1116e(13, Self.sdsf, at: nil, peer: "10.1.0.9"), gld1116e(14, Self.sdsf, at: nil, peer: "10.1.0.7", codes: "ssl:402 gld:GLD1116E")]
        XCTAssertEqual(pairs(engine.link(jobLogFailures + other, sources: revokedSources)), [])

        // The layouts say which side is the copy: a job log is never linked to its capture, nor
        // two job logs to each other.
        var twoLogs = revokedSources
        twoLogs[1].layout = "gld-joblog"
        XCTAssertEqual(pairs(engine.link(jobLogFailures + middle, sources: twoLogs)), [])
    }

    /// A link to a connection that is itself linked goes on to that one's story; a cycle is
    /// left as it was.
    func testALinkToALinkedConnectionGoesOnToItsStory() {
        let chain = LinkEngine.toStories([Link(conn: 1, story: 2, rule: "a", gap: nil, evidence: "e1"),
                                          Link(conn: 2, story: 3, rule: "b", gap: 0, evidence: "e2"),
                                          Link(conn: 3, story: 4, rule: "c", gap: 0, evidence: "e3")])
        XCTAssertEqual(chain.map(\.story), [4, 4, 4])
        XCTAssertEqual(chain[0].evidence, "e1; through conn 2, 3")
        XCTAssertEqual(chain[2].evidence, "e3")
        let cycle = LinkEngine.toStories([Link(conn: 1, story: 2, rule: "a", gap: nil, evidence: "e1"),
                                          Link(conn: 2, story: 1, rule: "b", gap: nil, evidence: "e2")])
        XCTAssertEqual(cycle.map(\.story), [2, 1])
    }

    func testConnectionsOfOneSourceDoNotLinkToEachOther() {
        let plan = engine.link(revokedSessions + [gld1116e(22, Self.gsk, at: 1_648_116_439_000_000, peer: "10.1.0.2")], sources: revokedSources)
        XCTAssertEqual(pairs(plan), [])
        XCTAssertEqual(count(plan, "gld1116e-gsk")?.unmatched, 1)
    }

    func testWithoutRulesNothingLinksButOffsetsAreStillKept() {
        let none = LinkEngine(rules: [], plugins: Fixtures.plugins)
        XCTAssertEqual(none.connectionRules, [])
        let plan = none.link(revokedSessions + [gld1116e(22, at: 1_648_116_439_000_000, peer: "10.1.0.2")], sources: revokedSources,
                             options: LinkOptions(offsets: [("client.txt", -3_600_000_000)]))
        XCTAssertEqual(plan.links, [])
        XCTAssertEqual(plan.report.rules, [])
        XCTAssertEqual(plan.offsets.map(\.source), [Self.client])
    }

    func testTheRulesSayWhatToLoad() {
        XCTAssertTrue(engine.connectionRules.isSuperset(of: ["gsk-session", "gld-ssl-failure", "attls-conn", "client-attempt", "ldap-conn"]))
        // Columns come with the connection; only other fields are read from its keys.
        XCTAssertFalse(engine.keyFields.contains("peer_ip"))
        XCTAssertTrue(engine.keyFields.isDisjoint(with: ConnectionRule.columns))
    }

    /// Connections of rules no link names, or of sources the store no longer lists, are taken as
    /// they are: ignored, and linked without an offset.
    func testUnknownRulesAndSourcesAreHarmless() {
        let plan = engine.link(revokedSessions + [
            conn(40, Self.gsk, "no-such-rule", 1_648_116_439_000_000),
            gld1116e(22, 99, at: 1_648_116_439_000_000, peer: "10.1.0.2"),
        ], sources: revokedSources)
        XCTAssertEqual(pairs(plan), [[22, 25]])
    }
}
