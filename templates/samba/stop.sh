#!/bin/sh
#*****
#*                stop.sh                *
#*****

# The Samba service. The seed (RHEL) names it smb; on current Debian and Ubuntu it is smbd.
# The seed runs /sbin/service; this finds service on PATH (in /usr/sbin on current systems),
# which forwards to systemctl on systemd hosts.
SERVICE=smbd

if [ "$CLP_EVENT" = "START" ]
then
  if [ "$CLP_DISK" = "SUCCESS" ]
  then
    echo "NORMAL1"
    if [ "$CLP_SERVER" = "HOME" ]
    then
      echo "NORMAL2"
    else
      echo "ON_OTHER1"
    fi
    echo "SAMBA stop"
  #
  # SAMBAの終了
  #
  service "$SERVICE" stop

else
  echo "ERROR_DISK from START"
  fi
elif [ "$CLP_EVENT" = "FAILOVER" ]
then
  if [ "$CLP_DISK" = "SUCCESS" ]
  then
    echo "FAILOVER1"
    if [ "$CLP_SERVER" = "HOME" ]
    then
      echo "FAILOVER2"
    else
      echo "ON_OTHER2"
    fi
    echo "SAMBA stop"
  #
  # SAMBAの終了
  #
  service "$SERVICE" stop

else
  echo "ERROR_DISK from FAILOVER"
  fi
else
  echo "NO_CLP"
fi
echo "EXIT"
exit 0
