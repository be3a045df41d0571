#!/bin/sh
#*****
#*           start.sh           *
#*****

# The NFS server service. The seed (RHEL 5/6) names it nfs; on current Debian, Ubuntu and RHEL
# it is nfs-server (Debian's nfs-kernel-server is another name for the same unit).
# The seed runs /sbin/service; this finds service on PATH (in /usr/sbin on current systems),
# which forwards to systemctl on systemd hosts.
SERVICE=nfs-server

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
    echo "NFS start"
  #
  # NFSサービスの起動
  #
  service "$SERVICE" start

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
    echo "NFS start"
  #
  # NFSサービスの起動
  #
  service "$SERVICE" start

else
        echo "ERROR_DISK from FAILOVER"
    fi
else
    echo "NO_CLP"
fi
echo "EXIT"
exit 0
