#!/bin/sh
#***************************************
#*              stop.sh                  *
#***************************************
# Stops service1. CLP_PID is the asynchronous start script's process (the service itself); clpd
# also terminates whatever it left once this script returns. CLP_FACTOR says why it stops:
# RESOURCERESTART when its monitor restarts it, GROUPSTOP, GROUPMOVE, GROUPFAILOVER...

echo "service1 stops (CLP_FACTOR=$CLP_FACTOR)"
if [ -n "$CLP_PID" ]
then
    kill "$CLP_PID" 2>/dev/null
fi
rm -f /run/clpkit/service1.pid
exit 0
