module omnidesk/bench/pacer

go 1.22
