// Package changes says what changed between two versions of a document,
// for the handoff letters (DESIGN §2.3): bytes in, a Summary out. It is
// pure: no store, no mail, no turnmail package; the caller loads both
// versions and says what to write.
//
// Compare counts the units added, removed and changed and shows the first
// few changed passages; Inspect says whether a version still carries
// review markup (comments, tracked changes) and whose, so a party can be
// warned before its own people's remarks cross to the other side.
//
// What it reads, by extension:
//
//   - docx (.docm, .dotx, .dotm): word/document.xml, the paragraphs (w:p)
//     of the body, text boxes and table cells included, as their text
//     (w:t, w:tab and w:br, w:cr, w:noBreakHyphen within runs w:r) in the
//     accepted view: w:ins and w:moveTo content in, w:del and w:moveFrom
//     (w:delText) out, mc:Fallback skipped since mc:Choice says the same.
//     Runs split mid-word read as one word. Markup: tracked insertions
//     (w:ins, w:moveTo, w:cellIns), deletions (w:del, w:moveFrom,
//     w:cellDel), formatting changes (w:rPrChange, w:pPrChange and their
//     kin) by w:author in the body and in word/header*.xml, footer*.xml,
//     footnotes.xml and endnotes.xml (whose text is not compared);
//     comments are word/comments.xml's w:comment by w:author.
//   - odt (.ott): content.xml, the paragraphs and headings (text:p,
//     text:h) with text:span, text:s (c spaces), text:tab and
//     text:line-break, white space collapsed as ODF says. Markup:
//     text:tracked-changes' text:insertion, text:deletion and
//     text:format-change by dc:creator (the deleted text lives there, so
//     the body is the accepted view), office:annotation by dc:creator.
//   - xlsx (.xlsm, .xltx, .xltm): xl/workbook.xml's sheets by name, found
//     through xl/_rels/workbook.xml.rels; their cells (c r= t=, v, inline
//     is) with xl/sharedStrings.xml resolved. Cells compare by value, not
//     formula. Inspect does not read xlsx comments.
//   - txt, md, csv (.text, .log, .markdown, .tsv): lines of UTF-8 (invalid
//     bytes replaced; UTF-16 with a byte order mark), CRLF and CR as LF.
//
// Anything else (pdf, images, pptx…) is Unsupported. Blank paragraphs and
// lines are no units: adding an empty line changes nothing.
//
// Every read is bounded (Limits): file size, what each zip member and the
// whole zip inflate to, zip members, paragraphs, cells and time (the
// context's deadline or Limits.MaxTime, whichever is first). Past a limit,
// Compare answers TooLarge rather than make the caller wait.
package changes
