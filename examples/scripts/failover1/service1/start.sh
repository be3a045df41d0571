#!/bin/sh
#***************************************
#*              start.sh                  *
#***************************************
# An asynchronous exec resource: clpd leaves this script running, and the pid monitor pidw1
# watches it. Kill the service (kill $(cat /run/clpkit/service1.pid)) and pidw1 restarts it once;
# a second kill stops the group (the final action).

if [ -z "$CLP_EVENT" ]
then
    echo "NO_CLP"
    exit 1
fi
echo "service1 starts (CLP_EVENT=$CLP_EVENT)"
echo $$ > /run/clpkit/service1.pid
# The service: here a loop that says it is alive every minute; put your daemon's foreground
# command here, with exec, so this script's process is the service's.
exec /bin/sh -c 'while :; do date; sleep 60; done'
