#!/usr/bin/env bash
# Whole switches on one core, in one run: packets per second forwarding
# 64-byte frames replayed from a pcap (DPDK net_pcap, infinite_rx=1) to a
# net_null port, for
#   testpmd        dpdk-testpmd io forwarding between the same two vdevs: the I/O floor
#   ovs-dpdk       Open vSwitch 3.1 (Debian openvswitch-switch-dpdk, userspace datapath,
#                  --no-huge --legacy-mem) with the br-tun unicast flows below
#   flowpipe_generic      examples/dpdk_switch with the same flows file in a generic pipeline, no flow cache
#   flowpipe_typed        the same flows file in br-tun's typed tables (--pipeline br-tun), no flow cache
#   flowpipe_typed_cache  the same with the exact-match flow cache (--flow-cache 8192)
#   flowpipe_br_tun       the Neutron preset (typed br-tun, l2pop entries over the control
#                         socket, flow cache): untagged frames from a VM port, VXLAN-encapsulated
#                         to the underlay port (more work per packet than the rows above)
#   ovs_one_flow, flowpipe_one_flow
#                         one flow, `actions=output:2` (flowpipe: generic pipeline, flow cache):
#                         each switch's least work per packet, to set beside testpmd's floor
# The flows (tables 0 -> 2 -> 20 of br-tun): frames tagged VLAN 2 from port 1
# to a known MAC lose their tag, get tunnel id 6 and go to port 2. The pcap
# holds FLOWS distinct frames (source MAC and IP differ) to that MAC.
#
#   bash bench/switch_bench.sh [--rounds R] [--seconds S] [--flows N] [--build DIR]
# Needs root, the release build (build/release by default) and, for the OVS
# row, openvswitch-switch-dpdk (installed here if missing, from Debian's
# archive). Prints one line per run and the medians, and the ratios
# flowpipe/testpmd and flowpipe/ovs-dpdk measured in the same round.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 seconds=8 flows=1024 build=build/release
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --flows) flows=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds R] [--seconds S] [--flows N] [--build DIR]" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "switch_bench.sh: run as root (DPDK, OVS)" >&2; exit 1; }
switch=$build/examples/dpdk_switch/dpdk_switch
[[ -x $switch ]] || { echo "switch_bench.sh: $switch not built (cmake --preset release && cmake --build build/release)" >&2; exit 1; }
ovs_vswitchd=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
if [[ ! -x $ovs_vswitchd ]]; then
  echo "switch_bench.sh: installing openvswitch-switch-dpdk"
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q openvswitch-switch-dpdk >/dev/null
  rm -f /usr/sbin/policy-rc.d
  # Keep the plain ovs-vswitchd the default: the tests' oracle runs it.
  update-alternatives --set ovs-vswitchd /usr/lib/openvswitch-switch/ovs-vswitchd >/dev/null 2>&1 || true
fi

work=$(mktemp -d /tmp/flowpipe-switch-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

vm_mac=fa:16:3e:73:49:41
python3 - "$work" "$flows" <<'EOF'
import struct, sys
work, n = sys.argv[1], int(sys.argv[2])
def frame(i, tagged):
    dst = bytes.fromhex('fa163e734941')
    src = bytes([0xfa, 0x16, 0x3e, 0x10 | (i >> 16) & 0xf, (i >> 8) & 0xff, i & 0xff])
    eth = dst + src + (struct.pack('!HH', 0x8100, 2) if tagged else b'') + struct.pack('!H', 0x0800)
    total = 60 - len(eth)                      # 64 bytes on the wire with the FCS
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, total, 0, 0, 64, 17, 0,
                     bytes([10, 1, (i >> 8) & 0xff, i & 0xff]), bytes([10, 0, 0, 9]))
    s = sum(struct.unpack('!10H', ip)); s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
    ip = ip[:10] + struct.pack('!H', ~s & 0xffff) + ip[12:]
    udp = struct.pack('!HHHH', 1024 + (i & 0x3ff), 5000, total - 20, 0) + bytes(total - 28)
    return eth + ip + udp
for name, tagged in (('tagged', True), ('untagged', False)):
    with open(f'{work}/{name}.pcap', 'wb') as o:
        o.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            f = frame(i, tagged)
            o.write(struct.pack('<IIII', 0, 0, len(f), len(f)) + f)
EOF
cat >"$work/flows.txt" <<EOF
table=0,priority=1,in_port=1 actions=resubmit(,2)
table=0,priority=0 actions=drop
table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)
table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)
table=20,priority=2,dl_vlan=2,dl_dst=$vm_mac actions=strip_vlan,set_tunnel:0x6,output:2
table=20,priority=0 actions=resubmit(,22)
table=22,priority=0 actions=drop
EOF

eal=(--no-huge -m 1024 --no-pci --no-shconf --no-telemetry)
in_vdev="net_pcap0,rx_pcap=$work/tagged.pcap,infinite_rx=1"
out_vdev="net_null0,no-rx=1"

# Each runner prints the packets per second it forwarded, measured over $seconds.
run_testpmd() {
  local log=$work/testpmd.log
  timeout $((seconds + 20)) dpdk-testpmd -l 0,1 "${eal[@]}" --file-prefix fpb-tp --vdev "$in_vdev" --vdev "$out_vdev" -- \
    --forward-mode=io --nb-cores=1 --auto-start --total-num-mbufs=16384 --stats-period 1 </dev/null >"$log" 2>&1 &
  local pid=$!
  pids+=($pid)
  # Start-up (the mempool without huge pages) takes a few seconds; then one stats line a second.
  sleep $((seconds + 4))
  kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
  # The Tx-pps of the net_null port (second of each pair of lines), median of the
  # one-second samples after the first (partial) one.
  awk '/Tx-pps:/ { n++; if (n % 2 == 0 && $2 > 0) print $2 }' "$log" | tail -n +2 | sort -g |
    awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'
}

# run_ovs [FLOWS_FILE]
run_ovs() {
  local flows_file=${1:-$work/flows.txt}
  local d=$work/ovs
  rm -rf "$d"; mkdir -p "$d"
  export OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d
  ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server --remote=punix:"$d/db.sock" --pidfile="$d/ovsdb.pid" --detach --log-file="$d/ovsdb.log" "$d/conf.db"
  pids+=("$(cat "$d/ovsdb.pid")")
  local vsctl=(ovs-vsctl --db=unix:"$d/db.sock" --no-wait)
  "${vsctl[@]}" init
  "${vsctl[@]}" set Open_vSwitch . other_config:dpdk-init=true \
    other_config:dpdk-extra="--no-huge --legacy-mem -m 1024 --no-pci --no-shconf --file-prefix fpb-ovs --vdev $in_vdev --vdev $out_vdev" \
    other_config:pmd-cpu-mask=0x2 other_config:dpdk-lcore-mask=0x1
  "$ovs_vswitchd" unix:"$d/db.sock" --pidfile="$d/vswitchd.pid" --detach --log-file="$d/vswitchd.log"
  pids+=("$(cat "$d/vswitchd.pid")")
  "${vsctl[@]}" add-br br0 -- set bridge br0 datapath_type=netdev fail-mode=secure
  "${vsctl[@]}" add-port br0 p1 -- set interface p1 type=dpdk options:dpdk-devargs=net_pcap0 ofport_request=1
  "${vsctl[@]}" add-port br0 p2 -- set interface p2 type=dpdk options:dpdk-devargs=net_null0 ofport_request=2
  ovs-vsctl --db=unix:"$d/db.sock" --timeout=20 wait-until interface p2 ofport=2 >/dev/null
  ovs-ofctl add-flows br0 "$flows_file"
  local ctl=$d/ovs-vswitchd-dpdk.$(cat "$d/vswitchd.pid").ctl
  [[ -S $ctl ]] || ctl=$d/ovs-vswitchd.$(cat "$d/vswitchd.pid").ctl
  sleep 2
  ovs-appctl -t "$ctl" dpif-netdev/pmd-stats-clear >/dev/null
  sleep "$seconds"
  local stats
  stats=$(ovs-appctl -t "$ctl" dpif-netdev/pmd-stats-show)
  echo "$stats" >"$work/ovs-pmd-stats.txt"
  kill "$(cat "$d/vswitchd.pid")" "$(cat "$d/ovsdb.pid")" 2>/dev/null || true
  sleep 1
  unset OVS_RUNDIR OVS_LOGDIR OVS_DBDIR
  echo "$stats" | awk -v s="$seconds" '/core_id/ { pmd = 1 } pmd && /packets received:/ { print int($3 / s); exit }'
}

# dpdk_switch prints `show` (one `key value` a line) when --duration ends it:
# the frames the net_null port sent, over the duration, is the rate.
switch_rate() { awk -v s="$seconds" '$1 == "port.net_null0.tx_packets" { print int($2 / s); exit }' "$1"; }

# control SOCKET COMMAND...: each command over the switch's control socket, replies checked.
control() { python3 scripts/switch-control.py "$@" >/dev/null; }

# flowpipe_flows [dpdk_switch options...]: the flows file on the same two vdevs.
run_flowpipe_flows() {
  local log=$work/flowpipe.log flows_file=$work/flows.txt
  if [[ $1 == --flows ]]; then flows_file=$2; shift 2; fi
  "$switch" -l 1 "${eal[@]}" --file-prefix fpb-fp --vdev "$in_vdev" --vdev "$out_vdev" -- \
    --flows "$flows_file" --port net_pcap0,ofport=1 --port net_null0,ofport=2 --duration "$seconds" "$@" \
    >"$log" 2>&1
  switch_rate "$log"
}
run_flowpipe_generic() { run_flowpipe_flows --pipeline generic --flow-cache 0; }
run_flowpipe_typed() { run_flowpipe_flows --pipeline br-tun --flow-cache 0; }
run_flowpipe_typed_cache() { run_flowpipe_flows --pipeline br-tun --flow-cache 8192; }
echo 'table=0,priority=0 actions=output:2' >"$work/one-flow.txt"
run_ovs_one_flow() { run_ovs "$work/one-flow.txt"; }
run_flowpipe_one_flow() { run_flowpipe_flows --flows "$work/one-flow.txt" --pipeline generic --flow-cache 8192; }

run_flowpipe_br_tun() {
  local log=$work/flowpipe-br-tun.log sock=$work/bt.sock
  "$switch" -l 1 "${eal[@]}" --file-prefix fpb-bt --vdev "net_pcap0,rx_pcap=$work/untagged.pcap,infinite_rx=1" \
    --vdev "$out_vdev" -- --neutron --local-ip 192.168.100.1 --network net1,vxlan,6 \
    --vm-port net_pcap0,ofport=5,net=net1 \
    --underlay net_null0,ip=192.168.100.1,mac=02:00:00:00:01:01,next-hop-mac=02:00:00:00:02:01 \
    --control "$sock" --paused --duration "$seconds" --flow-cache 8192 >"$log" 2>&1 &
  local pid=$!
  pids+=($pid)
  for _ in $(seq 100); do grep -qs '^ready' "$log" && break; sleep 0.1; done
  control "$sock" "add-fdb net1 192.168.100.2 00:00:00:00:00:00 0.0.0.0" \
    "add-fdb net1 192.168.100.2 $vm_mac 10.0.0.9" resume >&2
  wait $pid
  switch_rate "$log"
}

runners=(testpmd ovs flowpipe_generic flowpipe_typed flowpipe_typed_cache flowpipe_br_tun ovs_one_flow flowpipe_one_flow)
declare -A results
for ((r = 1; r <= rounds; r++)); do
  for who in "${runners[@]}"; do
    v=$(run_$who || echo 0)
    results[$who,$r]=${v:-0}
    printf 'round %d  %-16s %12.0f pps\n' "$r" "$who" "${v:-0}"
  done
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "== medians over $rounds rounds ($flows distinct 64-byte frames, one forwarding core)"
for who in "${runners[@]}"; do
  vals=(); for ((r = 1; r <= rounds; r++)); do vals+=("${results[$who,$r]}"); done
  printf '%-16s %8.2f Mpps\n' "$who" "$(awk -v v="$(median "${vals[@]}")" 'BEGIN { print v / 1e6 }')"
done
for who in "${runners[@]:2}"; do
  [[ $who == ovs_one_flow ]] && continue
  peer=ovs; [[ $who == flowpipe_one_flow ]] && peer=ovs_one_flow # the same flow in both
  tp=(); ov=()
  for ((r = 1; r <= rounds; r++)); do
    tp+=("$(awk -v a="${results[$who,$r]}" -v b="${results[testpmd,$r]}" 'BEGIN { print (b > 0 ? a / b : 0) }')")
    ov+=("$(awk -v a="${results[$who,$r]}" -v b="${results[$peer,$r]}" 'BEGIN { print (b > 0 ? a / b : 0) }')")
  done
  printf '%-18s %.2fx testpmd, %.2fx %s (median of per-round ratios)\n' "$who" "$(median "${tp[@]}")" "$(median "${ov[@]}")" "$peer"
done
