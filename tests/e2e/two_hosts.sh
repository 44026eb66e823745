#!/usr/bin/env bash
# Two hosts, two VMs, one tenant network over VXLAN, all in network namespaces
# this script makes (issue 6's end-to-end test):
#
#   ns vm1 [vm1 10.10.0.1] --veth-- ns h1 [dpdk_switch, Neutron br-tun] --veth (underlay)--
#   -- ns h2 [dpdk_switch, Neutron br-tun] --veth-- ns vm2 [vm2 10.10.0.2]
#
# Each host runs examples/dpdk_switch with the Neutron preset: the VM port and
# the underlay port are DPDK net_af_packet vdevs on the host's veth ends (or,
# with `xdp`, host 1's VM port is the AF_XDP example driver), the underlay
# IPs are the switches' own (the kernel has none), and l2pop entries come in
# over each switch's control socket. Then:
#   - `ping -c 3` from vm1 to vm2 succeeds;
#   - no ARP crosses the underlay, bare or inside VXLAN: both VMs' ARP requests
#     were answered by their own host's ARP responder (captures of the frames
#     arriving at both hosts' underlay veth ends show VXLAN frames and not one
#     ARP);
#   - host 2's table 20 holds the flow its table 10 learned for vm1's MAC.
# Every namespace and process made here is removed on exit, failed or not
# (by name and by pid).
#
#   two_hosts.sh DPDK_SWITCH [af_packet|xdp]
# Exit: 0 pass, 1 fail, 77 skipped (not root, no netns/veth, no tcpdump, or the
# AF_XDP driver was not built in).
set -uo pipefail

switch=${1:?usage: two_hosts.sh DPDK_SWITCH [af_packet|xdp]}
mode=${2:-af_packet}
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; status=1; }

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, veth pairs)"
[[ -x $switch ]] || skip "$switch was not built"
command -v ip >/dev/null || skip "iproute2 is not installed"
tcpdump=$(command -v tcpdump || echo /usr/sbin/tcpdump)
[[ -x $tcpdump ]] || skip "tcpdump is not installed"
if [[ $mode == xdp ]] && ! "$switch" --help 2>&1 | grep -q -- --xdp-vm-port; then
  skip "dpdk_switch was built without the AF_XDP example driver (libxdp/libbpf missing)"
fi

id=$(( $$ % 100000 ))
ns_h1=fp$id-h1 ns_h2=fp$id-h2 ns_vm1=fp$id-vm1 ns_vm2=fp$id-vm2
work=$(mktemp -d /tmp/flowpipe-two-hosts.XXXXXX)
pids=()
status=0

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.3
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  # By name too: anything still running with this run's work directory or file prefix.
  pkill -9 -f -- "--file-prefix fp$id-" 2>/dev/null
  pkill -9 -f -- "$work/" 2>/dev/null
  for ns in "$ns_h1" "$ns_h2" "$ns_vm1" "$ns_vm2"; do ip netns del "$ns" 2>/dev/null; done
  if [[ $status -eq 0 ]]; then rm -rf "$work"; else echo "logs kept in $work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---- topology ------------------------------------------------------------------
for ns in "$ns_h1" "$ns_h2" "$ns_vm1" "$ns_vm2"; do
  ip netns add "$ns" || skip "cannot create network namespaces"
  in_ns "$ns" ip link set lo up
done
vm1_mac=fa:16:3e:00:00:01 vm2_mac=fa:16:3e:00:00:02
u1_mac=02:00:00:00:01:01 u2_mac=02:00:00:00:02:01
# veth <name in A> <ns A> <name in B> <ns B> [mac of the A end]
veth() {
  ip link add "$1" netns "$2" type veth peer name "$3" netns "$4" || skip "cannot create veth pairs"
  [[ -n ${5:-} ]] && in_ns "$2" ip link set "$1" address "$5"
  for end in "$1:$2" "$3:$4"; do
    local dev=${end%%:*} ns=${end#*:}
    # No IPv6 (router solicitations, DAD) on the switch's wires: only the test's frames.
    in_ns "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
    in_ns "$ns" ip link set "$dev" up
  done
}
veth eth0 "$ns_vm1" vm "$ns_h1" "$vm1_mac"
veth eth0 "$ns_vm2" vm "$ns_h2" "$vm2_mac"
veth u "$ns_h1" u "$ns_h2" "$u1_mac"
in_ns "$ns_h2" ip link set u address "$u2_mac"
in_ns "$ns_vm1" ip addr add 10.10.0.1/24 dev eth0
in_ns "$ns_vm2" ip addr add 10.10.0.2/24 dev eth0

# ---- the two switches ----------------------------------------------------------
# start_switch <host ns> <lcore> <local ip> <local mac> <next-hop mac> <VM port args...>
start_switch() {
  local ns=$1 core=$2 ip=$3 mac=$4 nh=$5 name=$1
  shift 5
  local log=$work/$name.log
  # `ip netns exec` execs the switch: $! is the switch's own pid.
  ip netns exec "$ns" "$switch" -l "$core" --no-huge -m 256 --no-pci --no-shconf --no-telemetry --file-prefix "$name" \
    --vdev net_af_packet0,iface=vm --vdev net_af_packet1,iface=u -- \
    --neutron --local-ip "$ip" --network net1,vxlan,100 "$@" \
    --underlay "net_af_packet1,ip=$ip,mac=$mac,next-hop-mac=$nh" \
    --control "$work/$name.sock" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    grep -qs '^ready' "$log" && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log"
  fail "dpdk_switch on $name did not start"
  exit 1
}
vm_port_h1=(--vm-port net_af_packet0,ofport=5,net=net1)
if [[ $mode == xdp ]]; then
  # Host 1's VM port through the AF_XDP example driver instead of net_af_packet.
  vm_port_h1=(--xdp-vm-port vm,ofport=5,net=net1)
fi
start_switch "$ns_h1" 0 192.168.100.1 "$u1_mac" "$u2_mac" "${vm_port_h1[@]}"
start_switch "$ns_h2" 1 192.168.100.2 "$u2_mac" "$u1_mac" --vm-port net_af_packet0,ofport=5,net=net1

# control <host ns> <command>: one command over the switch's Unix socket; fails on an ERROR reply.
control() { python3 "$(dirname "$0")/../../scripts/switch-control.py" "$work/$1.sock" "$2"; }

# l2pop: each host learns the other's VM (unicast + ARP entry) and the flooding entry.
control "$ns_h1" "add-fdb net1 192.168.100.2 00:00:00:00:00:00 0.0.0.0" >/dev/null || fail "add-fdb flooding on h1"
control "$ns_h1" "add-fdb net1 192.168.100.2 $vm2_mac 10.10.0.2" >/dev/null || fail "add-fdb vm2 on h1"
control "$ns_h2" "add-fdb net1 192.168.100.1 00:00:00:00:00:00 0.0.0.0" >/dev/null || fail "add-fdb flooding on h2"
control "$ns_h2" "add-fdb net1 192.168.100.1 $vm1_mac 10.10.0.1" >/dev/null || fail "add-fdb vm1 on h2"

# ---- traffic ---------------------------------------------------------------------
# The underlay is captured where frames arrive, on each host's end of the veth
# (`-Q in`): a frame a switch sends through its packet socket may bypass the
# taps of its own host's end (a run saw only vm2's replies on host 1's), while
# every frame that crosses shows up at the other end.
capture_pids=()
for h in "$ns_h1" "$ns_h2"; do
  ip netns exec "$h" "$tcpdump" -i u -Q in -nn -U -w "$work/$h-underlay.pcap" >"$work/$h-tcpdump.log" 2>&1 &
  pids+=($!)
  capture_pids+=($!)
  for _ in $(seq 50); do grep -q "listening on" "$work/$h-tcpdump.log" && break; sleep 0.1; done
done

if in_ns "$ns_vm1" ping -c 3 -W 2 -i 0.3 10.10.0.2 >"$work/ping.log" 2>&1; then
  echo "ping vm1 -> vm2 over VXLAN: $(grep -o '[0-9]* received' "$work/ping.log")"
else
  cat "$work/ping.log"
  fail "vm1 cannot ping vm2"
fi
sleep 0.5
for pid in "${capture_pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done

# ARP answered locally: vm1 knows vm2's MAC, and no ARP crossed the underlay.
in_ns "$ns_vm1" ip neigh show 10.10.0.2 | grep -qi "$vm2_mac" || fail "vm1 has no ARP entry with vm2's MAC"
# count <pcap filter>: frames that arrived at either host's underlay end
# (tcpdump's own count: printed, a VXLAN frame takes two lines, or one).
count() {
  local n=0 h c
  for h in "$ns_h1" "$ns_h2"; do
    c=$("$tcpdump" -nn -r "$work/$h-underlay.pcap" --count "$1" 2>/dev/null | awk '{print $1}')
    n=$(( n + ${c:-0} ))
  done
  echo "$n"
}
vxlan=$(count 'udp dst port 4789')
bare_arp=$(count arp)
# The inner ethertype sits 8 (UDP) + 8 (VXLAN) + 12 bytes into the UDP header.
inner_arp=$(count 'udp dst port 4789 and udp[28:2] = 0x0806')
echo "underlay capture (both ends, arriving frames): $vxlan VXLAN frames, $bare_arp ARP, $inner_arp ARP inside VXLAN"
[[ $vxlan -ge 6 ]] || fail "expected at least 6 VXLAN frames (3 requests to host 2, 3 replies to host 1) on the underlay, saw $vxlan"
[[ $bare_arp -eq 0 && $inner_arp -eq 0 ]] || fail "ARP crossed the underlay"

# Host 2 learned vm1's MAC from the tunnel into table 20.
flows=$(control "$ns_h2" "dump-flows table=20")
echo "$flows" | grep -i "dl_dst=$vm1_mac" | grep -q "hard_timeout=300" ||
  { echo "$flows"; fail "no learned flow for vm1 in host 2's table 20"; }
echo "$flows" | grep -i "hard_timeout=300" | grep -i "dl_dst=$vm1_mac" | sed 's/^/  learned: /'

if [[ $status -ne 0 ]]; then
  for h in "$ns_h1" "$ns_h2"; do echo "== $h"; cat "$work/$h.log"; done
  exit 1
fi
echo "PASS ($mode)"
