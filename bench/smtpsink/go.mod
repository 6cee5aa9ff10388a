module omnidesk/bench/smtpsink

go 1.22
