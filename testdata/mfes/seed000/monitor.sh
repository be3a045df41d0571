
sleep 10
mdump_func()
{
mdump localhost ESSERV1 > $$tmp.txt 2> /dev/null
web_srv_flg=0
cat $$tmp.txt | while read line
do
    tmp=`echo $line | fgrep "SERVER_DOWN"`
    if [ ".$tmp" != "." ]; then
        return 3
    fi
    tmp=`echo $line | fgrep "CN:"`
    if [ ".$tmp" != "." ]; then
        tmp=`echo $line | fgrep "Web Services"`
        if [ ".$tmp" != "." ]; then
            web_srv_flg=1
        else
            web_srv_flg=0
        fi
    fi
    if [ $web_srv_flg -eq 1 ]; then
        lisnr=`echo $line | fgrep "mListenerStatus:"`
        if [ ".$lisnr" != "." ]; then
            lisnr=`echo $line | fgrep "Started"`
            if [ ".$lisnr" != "." ]; then
                return 0
            else
                return 1
            fi
        fi
    fi
done
}
if [ ".$host_name" = "." ] || [ ".$es_name" = "." ]; then
    host_name="localhost"
    es_name=""
fi
while : ; do
    # echo "monitoring"
    mdump_func
    res=$?
    rm $$tmp.txt
    if [ "$res" = "1" ]; then
        exit 0
    fi
    if [ "$res" = "3" ]; then
        exit 0
    fi
    sleep 5
done
;;
