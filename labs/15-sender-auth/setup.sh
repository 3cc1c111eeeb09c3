# Starting state of lab 15: the server of lab 14 (port 25 behind postscreen, port 587 for users who
# log in). example.test's host names and MX are in the lab's DNS server; the rest of the zone is
# yours: nsd, an authoritative DNS server, serves /etc/nsd/example.test.zone from this machine, and
# the lab's DNS server asks it. The zone has no TXT record yet: no SPF, DKIM or DMARC.
set -e
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nsd >/dev/null
cat > /etc/nsd/nsd.conf <<'CONF'
# NSD, the authoritative DNS server for example.test (see nsd.conf(5)).
server:
    ip-address: 192.0.2.10
    # There is no syslog in a lab machine: nsd writes its own log file.
    logfile: "/var/log/nsd.log"
    log-only-syslog: no
    # Zones are read from their files only (no database to keep).
    database: ""

remote-control:
    # nsd-control talks to nsd over this socket (no keys needed).
    control-enable: yes
    control-interface: /run/nsd/nsd.ctl

zone:
    name: example.test
    zonefile: /etc/nsd/example.test.zone
CONF
cat > /etc/nsd/example.test.zone <<'ZONE'
; The zone example.test. The lab's DNS server answers for its host names (mail.example.test) and
; its MX itself, and asks this server for everything else: publish the TXT records here (SPF, DKIM,
; DMARC), then check the file with `nsd-checkzone example.test /etc/nsd/example.test.zone` and load
; it with `nsd-control reload example.test`.
$ORIGIN example.test.
$TTL 60
@       IN  SOA  ns.example.test. hostmaster.example.test. ( 2026010101 3600 600 86400 60 )
@       IN  NS   ns.example.test.
ZONE
service nsd start >/dev/null
