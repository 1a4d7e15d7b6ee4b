package reply

import (
	"regexp"
	"slices"
	"strings"
)

// The words mail clients write around a quoted message, in the languages they
// ship. Each list is a class of marker, not a list of samples: a marker is
// recognised by its shape (a line ending in a colon, a dashed banner, a block
// of "Name: value" lines) and one of these words, so a client or a date
// format not seen before still matches when its words are here.

// attrVerbWords end (or, with the date after them, sit inside) an attribution,
// the line a client writes above the quote: Gmail, Apple Mail, Thunderbird,
// Yahoo and the mobile apps, e.g. "On <date>, <name> wrote:", "Le <date>,
// <name> a écrit :", "Am <date> schrieb <name>:", "<name> schrieb am
// <date>:", "Op <date> heeft <name> het volgende geschreven:", "<date>
// пользователь <name> написал:", "<name> 于<date>写道：", "<date>
// <name>님이 작성:", "<name> ezt írta (időpont: <date>):".
var attrVerbWords = []string{
	"wrote", "writes", "has written",
	"schrieb", "schreibt", "geschrieben", // de (Yahoo: "hat <name> Folgendes geschrieben:")
	"a écrit", "écrit", "a écrit le", // fr
	"escribió", "escribio", "va escriure", "ha escrit", // es, ca
	"ha scritto", "scrisse", // it
	"schreef", "geschreven", "schrijft", // nl
	"escreveu", "escrevia", // pt
	"skrev", "skriver", // sv da no
	"kirjoitti",                                                           // fi
	"napisał", "napisała", "napisał(a)", "napisał/a", "napisana", "pisze", // pl
	"napsal", "napsala", "napsal(a)", "napísal", "napísala", "napísal(a)", // cs sk
	"napisao", "napisala", "je napisao", "je napisal", "je napisala", // hr sr sl
	"написал", "написала", "написал(а)", "пишет", // ru
	"написав", "написала", "написав(ла)", "написав(-ла)", "пише", // uk
	"написа",                               // bg
	"yazdı", "şunu yazdı", "şunları yazdı", // tr
	"έγραψε", "έγραψε:", // el
	"írta", "ezt írta", // hu
	"a scris", "scrie", // ro
	"rašė", "rakstīja", "kirjutas", "skrifaði", "skrifar", // lt lv et is
	"написао", "написао/ла", "је написао", "је написала", "је написао/ла", "napisao/la", "je napisao/la", // sr
	"напиша", "shkroi", "escribiu", "ysgrifennodd", "yazdi", "yozdi", "жазды", "დაწერა", "գրել է", // mk sq gl cy az uz kk ka hy
	"نوشت", "نوشته است", "نے لکھا", // fa ur
	"đã viết", "menulis", "kirjoittaa",
	"כתב", "כתבה", "كتب", // he ar
	"写道", "寫道", "写到", "寫到", // zh
	"のメッセージ", "のメール", "は書きました", "が書きました", // ja
	"님이 작성", "작성", "님의 메시지", // ko
}

// attrIntros start an attribution: a wrapped one is found from its first
// line, which begins with one of these words (or with a date, see
// attrIntroRe): "On", "Le", "Am", "El", "Em", "Op", "Il giorno", "Den",
// "Dnia", "W dniu", "Dne", "Pe", "Στις", "在"…
var attrIntros = []string{
	"on", "at", "le", "am", "el", "em", "op", "il", "il giorno", "den", "dnia", "w dniu", "dne", "dňa",
	"pe", "în", "στις", "pada", "tanggal", "vào", "dana", "ke", "在", "于", "於", "בתאריך", "في",
}

// outlookFields are the names Outlook (desktop, on the web, for Mac, iOS and
// Android), Exchange, Lotus and the webmails that copy them give the fields of
// the header block they write instead of an attribution, in the client's
// language: "From:/Sent:/To:/Subject:", "Von:/Gesendet:/An:/Betreff:",
// "De :/Envoyé :/À :/Objet :", "Da:/Inviato:/A:/Oggetto:",
// "Van:/Verzonden:/Aan:/Onderwerp:", "Från:/Skickat:/Till:/Ämne:",
// "Fra:/Sendt:/Til:/Emne:", "Od:/Wysłano:/Do:/Temat:",
// "От:/Отправлено:/Кому:/Тема:", "发件人:/发送时间:/收件人:/主题:",
// "差出人:/送信日時:/宛先:/件名:"…
var outlookFields = map[string]outlookField{
	// Who sent it.
	"from": fieldSender, "von": fieldSender, "de": fieldSender, "da": fieldSender, "van": fieldSender,
	"från": fieldSender, "fra": fieldSender, "od": fieldSender, "от": fieldSender, "від": fieldSender,
	"lähettäjä": fieldSender, "kimden": fieldSender, "από": fieldSender, "feladó": fieldSender,
	"de la": fieldSender, "expéditeur": fieldSender, "absender": fieldSender, "remitente": fieldSender,
	"mittente": fieldSender, "afzender": fieldSender, "avsändare": fieldSender, "afsender": fieldSender,
	"avsender": fieldSender, "nadawca": fieldSender, "odesílatel": fieldSender, "отправитель": fieldSender,
	"відправник": fieldSender, "gönderen": fieldSender, "šalje": fieldSender, "pošiljatelj": fieldSender,
	"差出人": fieldSender, "送信者": fieldSender, "发件人": fieldSender, "寄件者": fieldSender, "寄件人": fieldSender,
	"보낸 사람": fieldSender, "보낸사람": fieldSender, "từ": fieldSender, "dari": fieldSender,

	// When.
	"sent": fieldDate, "date": fieldDate, "gesendet": fieldDate, "datum": fieldDate, "envoyé": fieldDate,
	"envoyé le": fieldDate, "enviado": fieldDate, "enviado el": fieldDate, "enviada em": fieldDate,
	"enviado em": fieldDate, "fecha": fieldDate, "inviato": fieldDate, "data": fieldDate,
	"verzonden": fieldDate, "verstuurd": fieldDate, "skickat": fieldDate, "sendt": fieldDate, "dato": fieldDate,
	"lähetetty": fieldDate, "päivämäärä": fieldDate, "wysłano": fieldDate, "wysłane": fieldDate,
	"odesláno": fieldDate, "odoslané": fieldDate, "отправлено": fieldDate, "дата": fieldDate,
	"надіслано": fieldDate, "gönderildi": fieldDate, "gönderilme": fieldDate, "tarih": fieldDate,
	"στάλθηκε": fieldDate, "ημερομηνία": fieldDate, "küldve": fieldDate, "elküldve": fieldDate,
	"dátum": fieldDate, "trimis": fieldDate, "poslano": fieldDate, "送信日時": fieldDate, "日付": fieldDate,
	"发送时间": fieldDate, "日期": fieldDate, "時間": fieldDate, "寄件日期": fieldDate, "傳送時間": fieldDate,
	"보낸 날짜": fieldDate, "날짜": fieldDate, "gửi": fieldDate, "terkirim": fieldDate,

	// To whom, and about what.
	"to": fieldOther, "an": fieldOther, "à": fieldOther, "a": fieldOther, "para": fieldOther,
	"aan": fieldOther, "till": fieldOther, "til": fieldOther, "do": fieldOther, "komu": fieldOther,
	"кому": fieldOther, "vastaanottaja": fieldOther, "kime": fieldOther, "προς": fieldOther,
	"címzett": fieldOther, "către": fieldOther, "catre": fieldOther, "prima": fieldOther,
	"宛先": fieldOther, "收件人": fieldOther, "收件者": fieldOther, "받는 사람": fieldOther,
	"받는사람": fieldOther, "đến": fieldOther, "kepada": fieldOther,
	"cc": fieldOther, "bcc": fieldOther, "kopie": fieldOther, "kopia": fieldOther, "kopi": fieldOther,
	"kopio": fieldOther, "dw": fieldOther, "копия": fieldOther, "копія": fieldOther, "bilgi": fieldOther,
	"κοιν.": fieldOther, "másolat": fieldOther, "másolatot kap": fieldOther, "抄送": fieldOther,
	"副本": fieldOther, "참조": fieldOther, "reply-to": fieldOther, "antwort an": fieldOther,
	"subject": fieldOther, "betreff": fieldOther, "objet": fieldOther, "asunto": fieldOther,
	"assunto": fieldOther, "oggetto": fieldOther, "onderwerp": fieldOther, "ämne": fieldOther,
	"emne": fieldOther, "aihe": fieldOther, "temat": fieldOther, "předmět": fieldOther,
	"predmet": fieldOther, "тема": fieldOther, "konu": fieldOther, "θέμα": fieldOther, "tárgy": fieldOther,
	"subiect": fieldOther, "subiectul": fieldOther, "件名": fieldOther, "主题": fieldOther, "主旨": fieldOther,
	"제목": fieldOther, "chủ đề": fieldOther, "perihal": fieldOther, "importance": fieldOther,
	"wichtigkeit": fieldOther, "priorité": fieldOther,
}

// bannerNouns name the message in the dashed banner a client puts above the
// quoted or forwarded one: "-----Original Message-----", "-----Reply
// Message-----", "-------- Oprindelig besked --------", "-----Ursprüngliche
// Nachricht-----", "-------- Mensaje original --------", "-------- 原始邮件
// --------"… A dashed line counts as a banner only when it names one.
var bannerNouns = []string{
	"message", "nachricht", "mensaje", "messaggio", "bericht", "meddelande", "meddelelse", "besked",
	"melding", "viesti", "wiadomość", "wiadomosc", "zpráva", "zprava", "správa", "сообщение", "повідомлення",
	"лист", "mesaj", "ileti", "μήνυμα", "üzenet", "mensagem", "missatge", "poruka", "sporočilo", "mail",
	"e-mail", "email", "original", "origine", "reply", "antwort", "réponse", "respuesta", "risposta",
	"邮件", "郵件", "信件", "消息", "メッセージ", "メール", "메시지", "메일", "thư",
}

// forwardWordList tell a forwarded message from a quoted one, in a banner
// ("---------- Forwarded message ---------", "-------- Weitergeleitete
// Nachricht --------", "---------- 已转发邮件 ----------") or in Apple Mail's
// line ("Begin forwarded message:", "Anfang der weitergeleiteten
// Nachricht:", "Début du message réexpédié :", "転送されたメッセージ:").
var forwardWordList = []string{
	"forward", "weitergeleitet", "transféré", "transfére", "réexpédié", "reenviado", "inoltrato",
	"doorgestuurd", "encaminhada", "reencaminhada", "vidarebefordra", "videresendt", "välitetty",
	"przekazana", "przekazywanej", "przesłana", "přeposlan", "preposlan", "пересыла", "переслан",
	"переадресован", "iletilen", "προωθημένο", "továbbított", "redirecționat", "redirectionat",
	"proslijeđen", "转发", "轉寄", "轉發", "転送", "전달",
}

// signOffs close a note before the name: "Regards,", "Best,", "Thanks,",
// "Mit freundlichen Grüßen", "Cordialement", "Saludos", "Met vriendelijke
// groet", "Med vänliga hälsningar", "С уважением,", "此致", "よろしくお願いします"…
// See cutSignOff for what may follow one.
var signOffs = []string{
	// en
	"regards", "best regards", "kind regards", "warm regards", "warmest regards", "best wishes",
	"many thanks", "thanks", "thank you", "thanks again", "thanks a lot", "thanks so much", "thank you so much",
	"thanks in advance", "thx", "cheers", "best", "all the best", "all best", "sincerely", "yours sincerely",
	"sincerely yours", "yours truly", "yours", "respectfully", "br", "kr", "rgds", "take care",
	"talk soon", "speak soon", "with thanks", "with best regards", "with kind regards", "many regards",
	"kindest regards", "best wishes", "warmly", "thanks and regards", "thanks & regards", "regards and thanks",
	// de
	"mit freundlichen grüßen", "mit freundlichen grüssen", "mit freundlichem gruß", "mit freundlichem gruss",
	"freundliche grüße", "freundliche grüsse", "viele grüße", "viele grüsse", "beste grüße", "beste grüsse",
	"liebe grüße", "liebe grüsse", "herzliche grüße", "herzliche grüsse", "schöne grüße", "grüße", "grüsse",
	"gruß", "gruss", "mfg", "lg", "vg", "bg", "danke", "vielen dank", "danke schön", "besten dank",
	"danke und grüße", "danke und gruß", "mit besten grüßen", "mit besten grüssen",
	// fr
	"cordialement", "bien cordialement", "très cordialement", "bien à vous", "bien à toi", "salutations",
	"meilleures salutations", "sincères salutations", "amicalement", "bonne journée", "bonne soirée",
	"merci", "merci beaucoup", "merci d'avance", "merci par avance", "à bientôt", "bises", "bisous",
	"belle journée", "bien amicalement", "au plaisir",
	// lawyers to one another (fr de nl it es)
	"confraternellement", "bien confraternellement", "très confraternellement", "amitiés confraternelles",
	"mit kollegialen grüßen", "mit kollegialen grüssen", "kollegiale grüße", "kollegiale grüsse",
	"mit freundlichen kollegialen grüßen", "mit freundlichen kollegialen grüssen", "mit kollegialem gruß",
	"mit kollegialem gruss", "met collegiale groet", "collegiale groet", "met confraternele groet",
	"con osservanza", "saluti cordiali", "un cordiale saluto", "reciba un cordial saludo",
	// es ca
	"saludos", "un saludo", "saludos cordiales", "un cordial saludo", "atentamente", "cordialmente",
	"un abrazo", "abrazos", "gracias", "muchas gracias", "besos", "salutacions",
	// it
	"saluti", "cordiali saluti", "distinti saluti", "un saluto", "grazie", "grazie mille", "a presto",
	"buona giornata", "un abbraccio", "cordialità", "grazie e saluti",
	// nl
	"met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet", "vriendelijke groeten",
	"groet", "groeten", "hartelijke groet", "hartelijke groeten", "mvg", "bedankt", "dank je", "dank u",
	"alvast bedankt", "groetjes", "met hartelijke groet",
	// pt
	"atenciosamente", "cumprimentos", "melhores cumprimentos", "abraços", "abraço", "um abraço",
	"obrigado", "obrigada", "muito obrigado", "muito obrigada", "saudações", "att", "att.", "atte", "beijos",
	// sv da no
	"med vänliga hälsningar", "vänliga hälsningar", "vänlig hälsning", "hälsningar", "bästa hälsningar",
	"mvh", "tack", "tack så mycket", "med venlig hilsen", "venlig hilsen", "hilsen", "mange tak",
	"de bedste hilsner", "bedste hilsner", "kærlig hilsen", "med vennlig hilsen", "vennlig hilsen",
	"takk", "beste hilsen", "tak",
	// fi
	"ystävällisin terveisin", "terveisin", "parhain terveisin", "kiitos", "kiitos paljon",
	"ystävällisesti",
	// pl cs sk
	"pozdrawiam", "z poważaniem", "pozdrawiam serdecznie", "serdecznie pozdrawiam", "serdeczne pozdrowienia",
	"pozdrowienia", "dziękuję", "dzięki", "z wyrazami szacunku", "s pozdravem", "s přátelským pozdravem",
	"děkuji", "díky", "zdravím", "s úctou", "s pozdravom", "ďakujem",
	// ru uk bg
	"с уважением", "спасибо", "всего доброго", "всего хорошего", "с наилучшими пожеланиями",
	"благодарю", "заранее спасибо", "з повагою", "дякую", "щиро", "з найкращими побажаннями",
	"поздрави", "с поздрав",
	// tr el hu ro
	"saygılarımla", "saygılar", "teşekkürler", "teşekkür ederim", "iyi çalışmalar", "selamlar",
	"sevgiler", "με εκτίμηση", "ευχαριστώ", "φιλικά", "με φιλικούς χαιρετισμούς", "χαιρετισμούς",
	"üdvözlettel", "tisztelettel", "köszönöm", "üdv", "köszi", "baráti üdvözlettel",
	"cu stimă", "cu stima", "cu respect", "mulțumesc", "multumesc", "toate cele bune", "cu drag",
	"o zi bună",
	// hr bs sr sl (Latin and Cyrillic)
	"lijep pozdrav", "lijepi pozdrav", "lijepi pozdravi", "srdačan pozdrav", "srdačni pozdravi", "pozdrav",
	"pozdravi", "srdačno", "s poštovanjem", "sa poštovanjem", "hvala", "hvala lijepa", "hvala puno",
	"lep pozdrav", "lepi pozdravi", "hvala lepa", "s spoštovanjem", "srečno",
	"поздрав", "срдачан поздрав", "срдачно", "са поштовањем", "с поштовањем", "хвала",
	// is et lv lt
	"heilsan", "vinarliga", "bestu heilsanir", "takk fyri", // fo
	"salutacions cordials", "cordialment", "salamat po", "yang benar", "agur bero bat", "saygılarımızla",
	"tervitusega", "hezký den", "iyi günler", "ciao", "tschüss", "bis bald", "servus", "mahalo", "shukran",
	"vänligen", "bis dann", "a bientôt", "hasta pronto", "hasta luego", "até breve", "até logo",
	"kveðja", "bestu kveðjur", "kær kveðja", "með kveðju", "með bestu kveðju", "takk fyrir", "kveðjur",
	"lugupidamisega", "parimate soovidega", "parimat", "tervitades", "tervitustega", "aitäh", "tänan",
	"ar cieņu", "ar labiem vēlējumiem", "paldies", "sveicieni", "visu labu",
	"pagarbiai", "su pagarba", "linkėjimai", "geriausi linkėjimai", "ačiū", "dėkoju",
	// bg mk
	"с уважение", "поздрави", "благодаря ви", "с най-добри пожелания", "со почит", "поздрав",
	// el
	"με εκτίμηση", "φιλικά", "με φιλικούς χαιρετισμούς", "χαιρετώ", "ευχαριστώ θερμά",
	// fa ur
	"با احترام", "با سپاس", "ممنون", "سپاس", "با تشکر", "ارادتمند", "قربان شما", "با سلام و احترام",
	"شکریہ", "والسلام",
	// sq mt ga cy eu gl et al.
	"me respekt", "përshëndetje", "faleminderit", "grazzi", "sellimiet", "go raibh maith agat", "le meas",
	"diolch", "cofion", "cofion gorau", "ondo izan", "agur", "eskerrik asko", "moitas grazas", "saúdos",
	"kind groeten", "baie dankie", "groete", "vriendelike groete",
	// sw tl hy ka az kk uz
	"asante", "salamu", "maraming salamat", "salamat", "lubos na gumagalang", "շնորհակալություն",
	"հարգանքով", "პატივისცემით", "მადლობა", "hörmətlə", "təşəkkürlər", "құрметпен", "рахмет",
	"hurmat bilan", "rahmat",
	// bn ta te ur mr
	"ধন্যবাদ", "শুভেচ্ছান্তে", "நன்றி", "அன்புடன்", "ధన్యవాదాలు", "धन्यवाद!",
	// ja zh ko
	"よろしくお願いします", "よろしくお願いいたします", "よろしくお願い致します", "宜しくお願いします",
	"宜しくお願い致します", "宜しくお願いいたします", "以上、よろしくお願いいたします",
	"以上、よろしくお願いします", "ありがとうございます", "ありがとうございました", "敬具", "以上",
	"此致", "此致敬礼", "此致 敬礼", "敬礼", "敬上", "谢谢", "謝謝", "祝好", "顺祝商祺", "顺颂商祺",
	"致礼", "多谢", "感谢", "谢谢！", "祝商祺",
	"감사합니다", "고맙습니다", "감사합니다.", "수고하세요", "감사드립니다", "좋은 하루 되세요",
	"谢谢您", "謝謝您", "顺祝", "順祝", "祝好", "祝安好", "祝工作顺利", "祝工作順利", "此致敬禮", "敬禮",
	"よろしく", "よろしくお願いいたします。", "お疲れ様です", "草々",
	// Casual thanks, as people close a short note in each language above.
	"ty", "tks", "thanks much", "many thanks again", "dankeschön", "danke sehr", "merci bien", "merci encore",
	"mille mercis", "grax", "mil gracias", "grazie ancora", "dank", "dankjewel", "dankjewel", "valeu", "obg",
	"brigado", "brigada", "tack så mycket", "tackar", "tusind tak", "tusen takk", "kiitti", "kiitoksia",
	"dziękuje", "dzięki wielkie", "dík", "děkuju", "dekuji", "vďaka", "vdaka", "dakujem", "ďakujem pekne",
	"спс", "спасибі", "благодаря", "мерси", "sağol", "sağ ol", "tşk", "çok teşekkürler", "ευχαριστώ πολύ",
	"kösz", "köszönettel", "mersi", "mulțumiri", "ありがとう", "感謝", "感謝します", "고마워", "감사해요",
	// he
	"תודה", "תודה רבה", "בברכה", "שלום רב", "שלום", "בהוקרה", "להתראות", "בכבוד רב", "תודה ובברכה",
	// ar
	"مع التحية", "مع خالص التحية", "مع تحياتي", "تحياتي", "مع أطيب التحيات", "مع أطيب تحياتي",
	"شكرا", "شكراً", "شكرًا", "شكرا جزيلا", "شكراً جزيلاً", "وشكرا", "مع الشكر", "مع الشكر والتقدير",
	"تحياتي لك", "مع التقدير", "خالص التحية",
	// vi
	"trân trọng", "cảm ơn", "cám ơn", "xin cảm ơn", "cảm ơn nhiều", "thân", "thân ái", "thân mến",
	"trân trọng cảm ơn", "chúc", "chúc sức khỏe",
	// id ms
	"terima kasih", "terima kasih banyak", "makasih", "salam", "salam hangat", "hormat saya", "hormat kami",
	"wassalam", "salam sejahtera", "terimakasih", "sekian terima kasih",
	// th: the polite particle (ครับ, ค่ะ) is trimmed before matching
	"ขอบคุณ", "ขอบคุณมาก", "ด้วยความเคารพ", "ขอแสดงความนับถือ", "ขอบพระคุณ", "ขอบใจ",
	// hi
	"धन्यवाद", "सादर", "शुभकामनाओं सहित", "आभार", "आभार सहित", "भवदीय", "शुक्रिया", "सधन्यवाद",
	"बहुत धन्यवाद", "सप्रेम",
}

// closingModifiers are words that lengthen a closing without making it a
// sentence: "Com os melhores cumprimentos", "Met vriendelijke groeten", "Mit
// besten Grüßen", "Avec mes meilleures salutations", "Con i migliori saluti",
// "Very best wishes". A line of closing words (isSignOff) may hold them.
var closingModifiers = []string{
	"with", "my", "the", "very", "and", "&", "+", "again", "much", "most", "warmest", "best", "kindest", "all",
	"mit", "den", "besten", "herzlichen", "lieben", "freundlichen", "und", "sehr", "nochmals", "vielmals",
	"avec", "mes", "nos", "meilleures", "sincères", "et", "encore", "tous", "bien", "très",
	"con", "i", "migliori", "più", "e", "molti", "tanti", "un", "mis", "mejores", "y", "muy", "todos",
	"com", "os", "meus", "melhores", "muitos", "com os", "cordiais", "o",
	"met", "vriendelijke", "hartelijke", "beste", "en", "nogmaals",
	"med", "vänliga", "venlige", "vennlige", "och", "og", "många", "mange",
	"z", "najlepszymi", "pozdrowieniami", "a", "s", "srdečným", "pozdravem", "veľká", "velká",
	"с", "наилучшими", "большое", "огромное", "заранее", "з", "найкращими", "щирі",
	"ve", "en", "iyi", "dileklerimle", "sa", "su", "ar", "með", "bestu", "kær", "lijep", "lep", "srdačan",
	"srdačni", "lepi", "lijepi", "срдачан", "са", "най-добри", "با", "و", "parimate", "πολλά", "sok", "nagyon", "cu", "multe", "cele",
	"banyak", "sekali", "rất", "nhiều", "lời", "và", "xin",
	"רבה", "ו", "مع", "و", "خالص", "جزيلا", "جزيلاً",
	// whom the thanks go to: "Cảm ơn anh", "Terima kasih, Pak", "Danke dir"
	"you", "dir", "euch", "ihnen", "vous", "toi", "anh", "chị", "em", "bạn", "pak", "bu", "ibu", "bapak",
}

// wordsRe compiles an alternation of words, longest first so that "a écrit
// le" wins over "a écrit", with spaces matching any blank.
func wordsRe(words []string) string {
	ws := slices.Clone(words)
	slices.SortFunc(ws, func(a, b string) int { return len(b) - len(a) })
	ws = slices.Compact(ws)
	for i, w := range ws {
		ws[i] = strings.ReplaceAll(regexp.QuoteMeta(w), " ", reBlank+"+")
	}
	return strings.Join(ws, "|")
}

// disclaimerWordList mark the legal notice a company appends below every
// signature ("CONFIDENTIALITY NOTICE: This e-mail and any attachments are
// intended solely…", "Diese E-Mail enthält vertrauliche…", "Ce message et
// ses pièces jointes sont confidentiels…"), also as the start of a longer
// word ("vertrauliche", "confidentiels").
var disclaimerWordList = []string{
	"confidential", "disclaimer", "intended recipient", "intended solely", "intended only", "privileged",
	"this e-mail and any", "this email and any", "this message and any",
	"vertraulich", "haftungsausschluss", "empfänger", "diese e-mail enthält", "diese nachricht enthält",
	"confidentiel", "destinataire", "avertissement", "ce message et",
	"confidencial", "destinatario", "destinatário", "aviso legal", "este mensaje", "esta mensagem",
	"riservat", "confidenziale", "questo messaggio",
	"vertrouwelijk", "geadresseerde", "dit e-mailbericht", "dit bericht",
	"konfidentiell", "konfidensiell", "fortrolig", "luottamuksellinen", "poufn", "důvěrn", "dôvern",
	"конфиденциальн", "конфіденційн", "gizli", "εμπιστευτικ", "bizalmas", "confidenția",
	"rahasia", "bảo mật", "机密", "保密", "機密", "秘密", "本邮件", "本郵件", "このメール", "기밀",
	// The company details the law asks for under every business mail:
	// register court and number, seat, managing directors, tax numbers.
	"sitz der gesellschaft", "sitz:", "registergericht", "amtsgericht", "handelsregister", "hrb", "hra",
	"geschäftsführer", "geschäftsführung", "vorstand:", "aufsichtsrat", "ust-id", "ust.-id", "ust-idnr",
	"umsatzsteuer-id", "steuernummer", "firmenbuch", "uid-nr", "registered office", "registered in england",
	"registered in scotland", "registered in ireland", "company no", "company number", "company registration",
	"vat no", "vat reg", "vat number", "vat id", "siège social", "siret", "siren", "rcs", "capital social",
	"au capital de", "n° tva", "tva intracommunautaire", "kvk", "kamer van koophandel", "btw-nummer", "btw nr",
	"handelsregisternummer", "cif:", "nif:", "registro mercantil", "p.iva", "p. iva", "partita iva",
	"capitale sociale", "codice fiscale", "krs:", "nr krs", "nip:", "regon", "ičo", "ič:", "dič", "org.nr", "org. nr",
	"organisationsnummer", "cvr-nr", "cvr:", "y-tunnus", "инн:", "огрн", "统一社会信用代码",
}

// subjectFieldNames name the subject in a header block (outlookFields).
var subjectFieldNames = []string{
	"subject", "betreff", "objet", "asunto", "assunto", "oggetto", "onderwerp", "ämne", "emne", "aihe",
	"temat", "předmět", "predmet", "тема", "konu", "θέμα", "tárgy", "subiect", "件名", "主题", "主旨", "제목",
	"chủ đề", "perihal",
}

// forwardPrefixes are what clients put before a forwarded message's subject
// in their language: FW/Fwd (en and most), WG (de), TR (fr), RV (es), I (it),
// ENC (pt), Doorst (nl), VB (sv), VL (fi), PD (pl), PŘ (cs),
// ПЕРЕСЛ (ru), İLT (tr), ΠΡΘ (el), TOV (hu), 转发/轉寄 (zh), 転送 (ja), 전달 (ko).
var forwardPrefixes = []string{
	"fw", "fwd", "wg", "tr", "rv", "i", "enc", "doorst", "vb", "vl", "pd", "př", "fw", "пересл", "переслать",
	"ilt", "i̇lt", "πρθ", "tov", "转发", "轉寄", "転送", "전달", "fwd", "továbbítás",
}
