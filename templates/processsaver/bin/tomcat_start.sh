#! /bin/sh
# Start script for Tomcat

export LANG=C

# Tomcat Server process restart
【Tomcat インストールディレクトリ】/bin/catalina.sh start

#sleep
/bin/sleep 5

exit 0
